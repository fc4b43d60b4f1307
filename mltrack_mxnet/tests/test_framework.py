"""The supported MXNet range, read from the ``instruments`` extra; the core tests the policy for other versions."""

from __future__ import annotations

import mxnet as mx
import pytest
from conftest import tracking_warnings
from packaging.specifiers import SpecifierSet

import mltrack_mxnet
from mltrack_core.plugin import require_framework
from mltrack_mxnet.framework import require_mxnet


@pytest.fixture
def unchecked() -> None:
    """Forget earlier checks, so that the next one runs (and warns) again."""
    require_mxnet.cache_clear()
    require_framework.cache_clear()


def test_the_supported_versions_are_the_range_of_the_instruments_extra():
    assert mltrack_mxnet.supported_versions() == SpecifierSet(">=1.9.1,<1.10")


@pytest.mark.usefixtures("unchecked")
def test_the_installed_mxnet_is_supported_and_accepted_without_a_warning():
    assert mx.__version__ in mltrack_mxnet.supported_versions()

    with tracking_warnings() as caught:
        assert require_mxnet() is mx

    assert caught == []
