"""Access to MXNet: object recognition, the supported version range, build facts.

Importing MXNet takes a second or more, so nothing here imports it unless an
MXNet object is already at hand (then MXNet is imported anyway) or the caller
needs MXNet itself (the demo). The supported range is written once, in the
``instruments`` extra of this package's ``pyproject.toml``.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import MissingDependencyError, require_framework
from mltrack_core.plugin import supported_versions as framework_versions

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = ["is_mxnet_object", "mxnet_environment", "require_mxnet", "supported_versions"]

_PLUGIN = "mltrack-mxnet"
_FRAMEWORK = "mxnet"
_INSTALL_HINT = "pip install 'mltrack-mxnet[instruments]' (MXNet 1.9.1 with numpy<1.24, Python <= 3.11)"


def supported_versions() -> SpecifierSet:
    """The MXNet versions this package supports: the range its ``instruments`` extra installs."""
    return framework_versions(_PLUGIN, _FRAMEWORK)


@functools.cache
def require_mxnet() -> ModuleType:
    """The ``mxnet`` module, after checking its version against :func:`supported_versions`.

    The version is ``mxnet.__version__``: GPU builds install as ``mxnet-cu112`` and the like.

    An MXNet newer than the range is used, with one ``TrackingWarning``.

    Raises:
        MissingDependencyError: MXNet is missing, cannot be imported, or is older than the supported range.
    """
    try:
        import mxnet
    except ImportError as exc:
        raise MissingDependencyError(f"mltrack-mxnet needs MXNet: {_INSTALL_HINT}") from exc
    except Exception as exc:  # e.g. AttributeError from numpy>=1.24, which MXNet 1.9.1 cannot import with
        raise MissingDependencyError(
            f"MXNet is installed but cannot be imported ({type(exc).__name__}: {exc}); {_INSTALL_HINT}"
        ) from exc
    require_framework(_PLUGIN, _FRAMEWORK, install_hint=_INSTALL_HINT, installed=mxnet.__version__)
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
