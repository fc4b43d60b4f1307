"""Building URIs of the test server: other schema, other database, other user."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit


def with_parameter(uri: str, name: str, value: str) -> str:
    """``uri`` with one more libpq query parameter."""
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}{name}={quote(value, safe='')}"


def in_schema(uri: str, schema: str) -> str:
    """``uri`` with ``schema`` as the only schema of the search path."""
    return with_parameter(uri, "options", f"-csearch_path={schema}")


def with_database(uri: str, database: str) -> str:
    """``uri`` naming another database of the same server."""
    return urlunsplit(urlsplit(uri)._replace(path=f"/{database}"))


def with_login(uri: str, user: str, password: str) -> str:
    """``uri`` logging in as another user."""
    parts = urlsplit(uri)
    hosts = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{hosts}"))


def password_of(uri: str) -> str:
    """The password written in ``uri``."""
    return urlsplit(uri).password or ""
