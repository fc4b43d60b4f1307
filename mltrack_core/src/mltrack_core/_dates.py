"""Stored times (milliseconds since 1970, UTC) as text for people."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_text(milliseconds: int, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``milliseconds`` since 1970 as a UTC date in ``pattern`` (strftime).

    A time no calendar date can show (after the year 9999, from a store
    written before the schema bounded times) is shown as its number, never
    an error: one odd entity must not stop a listing.
    """
    try:
        return (_EPOCH + timedelta(milliseconds=milliseconds)).strftime(pattern)
    except (OverflowError, TypeError, ValueError):
        return f"{milliseconds!r} ms since 1970 (beyond the calendar)"
