"""Signing in with a token once: it is kept in an HttpOnly, SameSite=Strict cookie that only reads accept."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.server.auth import SESSION_COOKIE
from mltrack_core.ui.templating import page_url, render

router = APIRouter()

_LONGEST_FORM = 4096


@router.get("/signin", response_class=HTMLResponse, name="signin")
def signin_page(request: Request, next: str = "/ui/") -> Response:
    """The sign-in form; ``next`` is the dashboard page to return to."""
    return render(request, "signin.html", next=_local(next), problem=None)


@router.post("/signin", name="signin_submit")
async def signin(request: Request) -> Response:
    """Checks the token and keeps it in the session cookie; a wrong token shows the form again (401)."""
    body = await request.body()
    form = parse_qs(body[:_LONGEST_FORM].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    next_page = _local((form.get("next") or ["/ui/"])[0])
    tokens = request.app.state.settings.tokens
    if tokens.required and tokens.identify(token) is None:
        problem = "That token is not valid on this server."
        return render(request, "signin.html", status_code=401, next=next_page, problem=problem)
    answer = RedirectResponse(next_page, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/signout", name="signout")
def signout(request: Request) -> Response:
    """Forgets the session cookie."""
    answer = RedirectResponse(page_url(request, "signin"), status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def _local(target: str) -> str:
    """``target`` if it is a dashboard path on this server, else the dashboard's home (no open redirect)."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"
