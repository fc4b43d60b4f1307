"""Bearer tokens of the metadata service: who may read and who may write.

Tokens are configured on the server, from ``MLTRACK_SERVER_TOKENS`` and/or a
file named by ``--tokens-file`` (``MLTRACK_SERVER_TOKENS_FILE``):

- ``MLTRACK_SERVER_TOKENS``: comma-separated ``SCOPE:TOKEN`` pairs, e.g.
  ``write:3f9c...,read:a71e...``;
- the tokens file: one token per line, ``SCOPE TOKEN [NAME]``; blank lines
  and lines starting with ``#`` are ignored. ``NAME`` (default
  ``SCOPE-token-LINE``) is what the request log shows instead of the token.

``SCOPE`` is ``read`` (every GET and query) or ``write`` (everything, reads
included). With no token configured the server is open to anyone who can reach
it, which ``mltrack server`` allows only on a loopback address. Tokens are held
as SHA-256 digests and never logged.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mltrack_core.errors import MltrackError

__all__ = [
    "READ",
    "SESSION_COOKIE",
    "TOKENS_FILE_VARIABLE",
    "TOKENS_VARIABLE",
    "WRITE",
    "Principal",
    "TokenConfigError",
    "TokenSet",
]

TOKENS_VARIABLE = "MLTRACK_SERVER_TOKENS"
TOKENS_FILE_VARIABLE = "MLTRACK_SERVER_TOKENS_FILE"
READ: Literal["read"] = "read"
WRITE: Literal["write"] = "write"
_SCOPES = (READ, WRITE)
SESSION_COOKIE = "mltrack_session"
"""The dashboard's sign-in cookie (HttpOnly, SameSite=Strict): it holds a token, accepted for reads only."""
_MIN_TOKEN_LENGTH = 16


class TokenConfigError(MltrackError, ValueError):
    """The server's token configuration cannot be read."""


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the token's name and scope (``anonymous`` when no token is configured)."""

    name: str
    scope: Literal["read", "write"]

    def may(self, needed: Literal["read", "write"]) -> bool:
        """Whether this principal may do what needs the ``needed`` scope."""
        return self.scope == WRITE or needed == READ


ANONYMOUS = Principal("anonymous", WRITE)


class TokenSet:
    """The configured tokens, held as SHA-256 digests."""

    def __init__(self) -> None:
        self._by_digest: dict[str, Principal] = {}

    def __len__(self) -> int:
        return len(self._by_digest)

    @property
    def required(self) -> bool:
        """Whether requests must carry a token (at least one is configured)."""
        return bool(self._by_digest)

    def add(self, scope: str, token: str, name: str, where: str) -> None:
        """Add one token; ``where`` names its origin for error messages (never the token itself)."""
        if scope not in _SCOPES:
            raise TokenConfigError(f"{where}: scope {scope!r} is neither 'read' nor 'write'")
        if len(token) < _MIN_TOKEN_LENGTH or any(character.isspace() for character in token):
            raise TokenConfigError(
                f"{where}: tokens must be at least {_MIN_TOKEN_LENGTH} characters without spaces; "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        digest = _digest(token)
        if digest in self._by_digest:
            raise TokenConfigError(f"{where}: this token is configured twice")
        self._by_digest[digest] = Principal(name, scope)  # type: ignore[arg-type]

    def identify(self, token: str) -> Principal | None:
        """The principal a presented token belongs to, or None for an unknown token."""
        return self._by_digest.get(_digest(token))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> TokenSet:
        """Tokens from ``MLTRACK_SERVER_TOKENS`` and the file ``MLTRACK_SERVER_TOKENS_FILE`` names."""
        environ = dict(os.environ if environ is None else environ)
        tokens = cls()
        for index, pair in enumerate(item for item in environ.get(TOKENS_VARIABLE, "").split(",") if item.strip()):
            scope, separator, token = pair.strip().partition(":")
            if not separator:
                raise TokenConfigError(f"{TOKENS_VARIABLE} entry {index + 1} is not SCOPE:TOKEN")
            tokens.add(scope, token, f"{scope}-token-env{index + 1}", f"{TOKENS_VARIABLE} entry {index + 1}")
        path = environ.get(TOKENS_FILE_VARIABLE)
        if path:
            tokens.read_file(Path(path))
        return tokens

    def read_file(self, path: Path) -> None:
        """Add the tokens of a tokens file (``SCOPE TOKEN [NAME]`` per line)."""
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except OSError as exc:
            raise TokenConfigError(f"cannot read the tokens file {path}: {exc.strerror}") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenConfigError(
                f"the tokens file {path} can be read by other users; restrict it with: chmod 600 {path}"
            )
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            where = f"{path} line {number}"
            if len(fields) not in (2, 3):
                raise TokenConfigError(f"{where}: expected SCOPE TOKEN [NAME]")
            name = fields[2] if len(fields) == 3 else f"{fields[0]}-token-line{number}"
            self.add(fields[0], fields[1], name, where)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
