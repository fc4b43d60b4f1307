"""The supported scikit-learn range: the ``instruments`` extra's, with the installed release in it.

How releases older or newer than the range are treated is the core's one policy, tested in the core.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version

from packaging.specifiers import SpecifierSet

import mltrack_core as mt
from mltrack_core.plugin import require_framework
from mltrack_sklearn import supported_versions
from mltrack_sklearn.framework import require_sklearn


def test_the_supported_range_is_the_instruments_extra():
    assert supported_versions() == SpecifierSet(">=1.4,<1.10")


def test_the_installed_scikit_learn_is_in_the_range_and_accepted_without_a_warning():
    assert supported_versions().contains(version("scikit-learn"), prereleases=True)
    require_framework.cache_clear()  # the check runs once per process: make it run here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        require_sklearn()
    assert not [warning for warning in caught if issubclass(warning.category, mt.TrackingWarning)]
