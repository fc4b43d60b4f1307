"""Where digests go: SMTP server, sender, recipients, and which events send one by themselves.

Settings come from the environment, else from an INI file
(``$MLTRACK_NOTIFY_CONFIG``, else ``notify.ini`` in ``$MLTRACK_HOME``,
default ``~/.mltrack``); an environment variable wins over the file::

    [smtp]
    host = smtp.example.com      ; MLTRACK_SMTP_HOST (required)
    port = 587                   ; MLTRACK_SMTP_PORT (default: 465 for ssl, 587 for starttls, else 25)
    security = starttls          ; MLTRACK_SMTP_SECURITY: none, starttls or ssl (default: by port)
    username = mltrack           ; MLTRACK_SMTP_USERNAME (log in only when set)
    password = secret            ; MLTRACK_SMTP_PASSWORD
    timeout = 10                 ; MLTRACK_SMTP_TIMEOUT, seconds

    [digest]
    to = team@example.com, lead@example.com   ; MLTRACK_NOTIFY_TO (required)
    from = mltrack@example.com   ; MLTRACK_NOTIFY_FROM (default: mltrack@<this host>)
    on = run-failed, regression  ; MLTRACK_NOTIFY_ON: events that send a digest by themselves:
                                 ; run-failed, run-ended, regression, or none

Without a host and recipients nothing is configured, and the observer stays silent.
"""

from __future__ import annotations

import configparser
import math
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mltrack_core.artifacts import mltrack_home
from mltrack_core.errors import MltrackError

__all__ = [
    "CONFIG_VARIABLE",
    "EVENTS",
    "NotifyConfigurationError",
    "NotifySettings",
    "checked_addresses",
    "config_path",
    "load_settings",
]

CONFIG_VARIABLE = "MLTRACK_NOTIFY_CONFIG"
EVENTS = ("run-failed", "run-ended", "regression")
_SECURITY = ("none", "starttls", "ssl")
_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
_SETTINGS = {
    # (section, option): environment variable
    ("smtp", "host"): "MLTRACK_SMTP_HOST",
    ("smtp", "port"): "MLTRACK_SMTP_PORT",
    ("smtp", "security"): "MLTRACK_SMTP_SECURITY",
    ("smtp", "username"): "MLTRACK_SMTP_USERNAME",
    ("smtp", "password"): "MLTRACK_SMTP_PASSWORD",
    ("smtp", "timeout"): "MLTRACK_SMTP_TIMEOUT",
    ("digest", "to"): "MLTRACK_NOTIFY_TO",
    ("digest", "from"): "MLTRACK_NOTIFY_FROM",
    ("digest", "on"): "MLTRACK_NOTIFY_ON",
}


class NotifyConfigurationError(MltrackError, ValueError):
    """The notification settings are incomplete or invalid (the message names the setting)."""


@dataclass(frozen=True)
class NotifySettings:
    """Everything needed to send a digest."""

    host: str
    recipients: tuple[str, ...]
    sender: str
    port: int = 25
    security: str = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    events: frozenset[str] = frozenset({"run-failed", "regression"})


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The settings file: ``$MLTRACK_NOTIFY_CONFIG``, else ``notify.ini`` in the mltrack home folder."""
    environ = os.environ if environ is None else environ
    return Path(environ[CONFIG_VARIABLE]) if environ.get(CONFIG_VARIABLE) else mltrack_home() / "notify.ini"


def load_settings(environ: Mapping[str, str] | None = None) -> NotifySettings | None:
    """The settings from the environment and the settings file, or None when nothing is configured.

    Raises:
        NotifyConfigurationError: the settings are incomplete (a host without
            recipients, or the reverse) or a value is invalid; the message names it.
    """
    environ = os.environ if environ is None else environ
    values = _read_file(config_path(environ), explicit=bool(environ.get(CONFIG_VARIABLE)))
    for key, variable in _SETTINGS.items():
        if environ.get(variable):
            values[key] = environ[variable]
    host, recipients = values.get(("smtp", "host")), values.get(("digest", "to"))
    if not host and not recipients:
        return None
    if not host or not recipients:
        missing = ("smtp", "host") if not host else ("digest", "to")
        raise NotifyConfigurationError(
            f"notifications need both an SMTP host and recipients: set {_SETTINGS[missing]} "
            f"(or {missing[1]} in the [{missing[0]}] section of {config_path(environ)})"
        )
    security = (values.get(("smtp", "security")) or "").lower() or None
    port_text = values.get(("smtp", "port"))
    port = _number(port_text, ("smtp", "port"), int) if port_text else None
    if security is None:
        security = "ssl" if port == 465 else "starttls" if port == 587 else "none"
    if security not in _SECURITY:
        raise _invalid(("smtp", "security"), security, f"one of {', '.join(_SECURITY)}")
    timeout_text = values.get(("smtp", "timeout"))
    events = frozenset(
        item.strip() for item in (values.get(("digest", "on")) or "run-failed, regression").split(",") if item.strip()
    )
    unknown = sorted(events - set(EVENTS) - {"none"})
    if unknown:
        raise _invalid(("digest", "on"), ", ".join(unknown), f"events among {', '.join(EVENTS)}, or none")
    if port is not None and port > 65535:
        raise _invalid(("smtp", "port"), port_text, "a port number from 1 to 65535")
    sender = values.get(("digest", "from")) or f"mltrack@{socket.getfqdn()}"
    return NotifySettings(
        host=host,
        recipients=checked_addresses(recipients.split(","), _SETTINGS[("digest", "to")]),
        sender=checked_addresses([sender], _SETTINGS[("digest", "from")])[0],
        port=port if port is not None else _DEFAULT_PORTS[security],
        security=security,
        username=values.get(("smtp", "username")) or None,
        password=values.get(("smtp", "password")) or None,
        timeout=_number(timeout_text, ("smtp", "timeout"), float) if timeout_text else 10.0,
        events=events - {"none"},
    )


def checked_addresses(addresses: Iterable[str], setting: str) -> tuple[str, ...]:
    """The email addresses, stripped; none may hold a line break or other control character (a forged header).

    Raises:
        NotifyConfigurationError: an address holds a control character; the message names ``setting``.
    """
    checked = tuple(address.strip() for address in addresses if address.strip())
    for address in checked:
        if not address.isprintable():
            raise NotifyConfigurationError(
                f"{setting}: the address {address!r} holds a line break or control character"
            )
    return checked


def _read_file(path: Path, *, explicit: bool) -> dict[tuple[str, str], str]:
    if not path.exists():
        if explicit:
            raise NotifyConfigurationError(f"{CONFIG_VARIABLE} names {path}, which does not exist")
        return {}
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise NotifyConfigurationError(f"cannot read the notification settings in {path}: {exc}") from None
    values = {}
    for section in parser.sections():
        for option, value in parser.items(section):
            if (section, option) not in _SETTINGS:
                known = ", ".join(f"[{s}] {o}" for s, o in _SETTINGS)
                raise NotifyConfigurationError(f"{path}: unknown setting [{section}] {option}; known: {known}")
            values[(section, option)] = value
    return values


def _number(text: str, key: tuple[str, str], kind: type) -> float:
    try:
        number = kind(text)
    except ValueError:
        raise _invalid(key, text, "a number") from None
    if not 0 < number < math.inf:
        raise _invalid(key, text, "a positive number")
    return number


def _invalid(key: tuple[str, str], value: str, expected: str) -> NotifyConfigurationError:
    return NotifyConfigurationError(f"{_SETTINGS[key]} / [{key[0]}] {key[1]} = {value!r}: expected {expected}")
