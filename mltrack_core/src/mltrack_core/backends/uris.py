"""Quoting store URIs in messages without their secrets, even URIs too malformed to parse."""

from __future__ import annotations

import re

__all__ = ["mask_credentials"]

_USER_INFO = re.compile(r"^([^:/?#]*:)?(//)[^/?#]*@")
_SECRET_PARAMETER = re.compile(r"([?&](?:password|token)=)[^&#]*", re.IGNORECASE)


def mask_credentials(uri: str) -> str:
    """``uri`` as a message may quote it: user, password or token before ``@`` and ``password=`` values masked.

    Works on text, not on a parsed URI, so it also masks what a malformed URI
    (one ``urllib.parse`` refuses) holds. The whole user part is masked because
    some schemes carry a secret there alone (``https://TOKEN@host``).

    Args:
        uri: A store URI as the user wrote it.

    Returns:
        ``uri`` with ``***`` in place of every credential.
    """
    masked = _USER_INFO.sub(lambda match: f"{match.group(1) or ''}//***@", uri, count=1)
    return _SECRET_PARAMETER.sub(r"\1***", masked)
