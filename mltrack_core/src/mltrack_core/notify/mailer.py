"""Sending a digest by email with :mod:`smtplib`."""

from __future__ import annotations

import smtplib
import ssl
from typing import TYPE_CHECKING

from mltrack_core.errors import MltrackError

if TYPE_CHECKING:
    from mltrack_core.notify.digest import Digest
    from mltrack_core.notify.settings import NotifySettings

__all__ = ["NotifyError", "send_digest"]


class NotifyError(MltrackError, ConnectionError):
    """A digest could not be sent (the message names the SMTP server and the reason)."""


def send_digest(digest: Digest, settings: NotifySettings) -> None:
    """Send ``digest`` to the recipients of ``settings``.

    Raises:
        NotifyError: the SMTP server refused the message or cannot be reached.
    """
    message = digest.to_message(settings)
    server = f"{settings.host}:{settings.port}"
    try:
        if settings.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with connection:
            if settings.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if settings.username:
                connection.login(settings.username, settings.password or "")
            refused = connection.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"the SMTP server {server} refused the login of {settings.username!r}: {_reason(exc)}; "
            "check MLTRACK_SMTP_USERNAME and MLTRACK_SMTP_PASSWORD"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"cannot send the digest through the SMTP server {server}: {type(exc).__name__}: {_reason(exc)}"
        ) from None
    if refused:
        raise NotifyError(f"the SMTP server {server} refused recipient(s) {', '.join(sorted(refused))}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__
