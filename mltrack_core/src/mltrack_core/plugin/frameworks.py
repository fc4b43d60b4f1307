"""The framework versions a plugin supports: read once from its own ``instruments`` extra, checked by one policy.

A framework plugin states its supported range in one place, the extra that
installs the framework (opentelemetry-python-contrib's ``instruments``)::

    [project.optional-dependencies]
    instruments = ["scikit-learn>=1.4,<1.10"]

:func:`require_framework` checks the installed framework against it, the same
way for every plugin: a missing framework or one older than the range is
refused with :class:`~mltrack_core.errors.MissingDependencyError`; one newer
than the range is used with one :class:`~mltrack_core.errors.TrackingWarning`
(it was not tested, and some metadata may be missing).
"""

from __future__ import annotations

import functools
import warnings
from importlib.metadata import PackageNotFoundError, requires, version
from typing import TYPE_CHECKING

from mltrack_core.errors import MissingDependencyError, MltrackError, TrackingWarning

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = ["INSTRUMENTS_EXTRA", "require_framework", "supported_versions"]

INSTRUMENTS_EXTRA = "instruments"
_UPPER_BOUNDS = ("<", "<=")


@functools.cache
def supported_versions(plugin: str, framework: str) -> SpecifierSet:
    """The versions of ``framework`` that the distribution ``plugin`` names in its ``instruments`` extra.

    Raises:
        MltrackError: ``plugin`` is not installed, or its extra does not name ``framework``.
    """
    from packaging.requirements import InvalidRequirement, Requirement  # imported when needed: ~10 ms
    from packaging.utils import canonicalize_name

    try:
        requirements = requires(plugin) or []
    except PackageNotFoundError:
        raise MltrackError(f"the mltrack plugin distribution {plugin!r} is not installed") from None
    wanted = canonicalize_name(framework)
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if (
            canonicalize_name(requirement.name) == wanted
            and marker is not None
            and "extra" in str(marker)
            and marker.evaluate({"extra": INSTRUMENTS_EXTRA})
        ):
            return requirement.specifier
    raise MltrackError(f"{plugin} names no {framework} range in its {INSTRUMENTS_EXTRA!r} extra")


@functools.cache
def require_framework(
    plugin: str, framework: str, *, install_hint: str | None = None, installed: str | None = None
) -> str:
    """Check that a supported ``framework`` is installed for ``plugin``; return its version.

    The result is remembered, so the check (and its warning) happens once per process.

    Args:
        plugin: the plugin's distribution, e.g. ``"mltrack-sklearn"``.
        framework: the framework's distribution, e.g. ``"scikit-learn"``.
        install_hint: what to run to get a supported framework; default
            ``pip install '<plugin>[instruments]'``.
        installed: the framework's version, when the plugin knows it better than the
            distribution ``framework`` does (the imported module's ``__version__``:
            MXNet's GPU builds install as ``mxnet-cu112`` and the like).

    Raises:
        MissingDependencyError: the framework is not installed, or is older than the supported range.
    """
    from packaging.version import InvalidVersion, Version

    supported = supported_versions(plugin, framework)
    hint = install_hint or f"pip install '{plugin}[{INSTRUMENTS_EXTRA}]'"
    if installed is None:
        try:
            installed = version(framework)
        except PackageNotFoundError:
            raise MissingDependencyError(f"{plugin} needs {framework}{supported}: {hint}") from None
    try:
        parsed = Version(installed)
    except InvalidVersion:
        raise MissingDependencyError(f"{plugin} cannot read {framework}'s version {installed!r}: {hint}") from None
    failed = [spec for spec in supported if not spec.contains(parsed, prereleases=True)]
    if failed and all(spec.operator in _UPPER_BOUNDS for spec in failed):
        warnings.warn(
            f"{plugin} was tested with {framework}{supported}; {installed} is installed, so some metadata "
            "may be missing",
            TrackingWarning,
            stacklevel=2,
        )
    elif failed:
        raise MissingDependencyError(f"{plugin} supports {framework}{supported}, but {installed} is installed: {hint}")
    return installed
