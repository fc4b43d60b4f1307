"""Access to MXNet: the supported version range, object recognition, build facts.

Importing MXNet takes a second or more, so nothing here imports it unless an
MXNet object is already at hand (then MXNet is imported anyway) or the caller
needs MXNet itself (the demo).
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from mltrack_core import MissingDependencyError

__all__ = ["SUPPORTED_MXNET", "check_version", "is_mxnet_object", "mxnet_environment", "require_mxnet"]

SUPPORTED_MXNET = ">=1.9.1,<1.10"
"""The MXNet versions this package reads (the ``instruments`` extra installs one)."""

_INSTALL_HINT = "pip install 'mltrack-mxnet[instruments]' (MXNet 1.9.1 with numpy<1.24, Python <= 3.11)"


def check_version(version: str) -> None:
    """Raise unless ``version`` is an MXNet version this package supports.

    Raises:
        MissingDependencyError: naming the installed and the supported versions.
    """
    try:
        supported = Version(version) in SpecifierSet(SUPPORTED_MXNET)
    except InvalidVersion:
        supported = False
    if not supported:
        raise MissingDependencyError(
            f"mltrack-mxnet supports mxnet{SUPPORTED_MXNET}, but mxnet {version} is installed; {_INSTALL_HINT}"
        )


@functools.cache
def require_mxnet() -> ModuleType:
    """The ``mxnet`` module, after checking that its version is supported.

    Raises:
        MissingDependencyError: MXNet is missing, cannot be imported, or has an unsupported version.
    """
    try:
        import mxnet
    except ImportError as exc:
        raise MissingDependencyError(f"mltrack-mxnet needs MXNet: {_INSTALL_HINT}") from exc
    except Exception as exc:  # e.g. AttributeError from numpy>=1.24, which MXNet 1.9.1 cannot import with
        raise MissingDependencyError(
            f"MXNet is installed but cannot be imported ({type(exc).__name__}: {exc}); {_INSTALL_HINT}"
        ) from exc
    check_version(mxnet.__version__)
    return mxnet


def is_mxnet_object(obj: Any) -> bool:
    """Whether ``obj`` is an instance of an MXNet class (or of a user class derived from one)."""
    return "mxnet" in sys.modules and any(
        cls.__module__ == "mxnet" or cls.__module__.startswith("mxnet.") for cls in type(obj).__mro__
    )


@functools.cache
def mxnet_environment() -> dict[str, str]:
    """Facts about the MXNet build of this process: version, enabled features, GPUs."""
    mxnet = sys.modules.get("mxnet") or require_mxnet()
    features = mxnet.runtime.Features()
    return {
        "mxnet.version": mxnet.__version__,
        "mxnet.features": ", ".join(name for name, feature in features.items() if feature.enabled),
        "mxnet.gpus": str(mxnet.context.num_gpus()),
    }
