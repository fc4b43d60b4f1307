"""One policy for the framework versions of every plugin, read from the plugin's own ``instruments`` extra.

The distributions are installed the way an installer does (``*.dist-info`` on ``sys.path``), so the real
metadata is read.
"""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet

import mltrack_core as mt
from mltrack_core.plugin import require_framework, supported_versions


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a distribution with a version and requirements (no code)."""

    def install_distribution(name: str, version: str, *requirements: str) -> None:
        info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {requirement}" for requirement in requirements]
        (info / "METADATA").write_text("\n".join(lines) + "\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    supported_versions.cache_clear()
    require_framework.cache_clear()
    yield install_distribution
    supported_versions.cache_clear()
    require_framework.cache_clear()


def plugin(install, framework_version: str | None) -> None:
    install(
        "mltrack-forest",
        "0.1.0",
        "mltrack-core",
        'forest-lib<3,>=2.1; extra == "instruments"',
        'numpy<2; extra == "instruments"',
        'pytest; extra == "test"',
    )
    if framework_version is not None:
        install("forest-lib", framework_version)


def test_the_range_is_read_from_the_instruments_extra(install):
    plugin(install, None)
    assert supported_versions("mltrack-forest", "forest_lib") == SpecifierSet(">=2.1,<3")
    with pytest.raises(mt.MltrackError, match="names no pytest range in its 'instruments' extra"):
        supported_versions("mltrack-forest", "pytest")
    with pytest.raises(mt.MltrackError, match="'mltrack-nothing' is not installed"):
        supported_versions("mltrack-nothing", "forest-lib")


@pytest.mark.parametrize("installed", ["2.1", "2.9.3", "2.10.0rc1"])
def test_a_version_in_the_range_passes_silently(install, installed):
    plugin(install, installed)
    assert require_framework("mltrack-forest", "forest-lib") == installed


def test_a_newer_version_is_used_with_one_warning(install):
    plugin(install, "3.0.0rc1")
    with pytest.warns(mt.TrackingWarning, match=r"mltrack-forest was tested with forest-lib<3,>=2.1; 3.0.0rc1"):
        assert require_framework("mltrack-forest", "forest-lib") == "3.0.0rc1"
    assert require_framework("mltrack-forest", "forest-lib") == "3.0.0rc1"  # once: no second warning


@pytest.mark.parametrize("installed", ["2.0.9", "1.0", "not-a-version"])
def test_an_older_or_unreadable_version_is_refused(install, installed):
    plugin(install, installed)
    with pytest.raises(mt.MissingDependencyError, match=r"pip install 'mltrack-forest\[instruments\]'") as refused:
        require_framework("mltrack-forest", "forest-lib")
    assert installed in str(refused.value)


def test_a_missing_framework_is_refused_with_the_hint_given(install):
    plugin(install, None)
    with pytest.raises(mt.MissingDependencyError, match=r"mltrack-forest needs forest-lib<3,>=2.1: conda install"):
        require_framework("mltrack-forest", "forest-lib", install_hint="conda install forest")


def test_a_version_the_plugin_read_itself_is_checked_the_same_way(install):
    plugin(install, None)  # a build installed under another distribution name (mxnet-cu112, say)
    assert require_framework("mltrack-forest", "forest-lib", installed="2.5") == "2.5"
    with pytest.raises(mt.MissingDependencyError, match="but 1.9 is installed"):
        require_framework("mltrack-forest", "forest-lib", installed="1.9")
