"""``tracker.diff`` treats NaN as equal to NaN, however the store returns it (float or standard-JSON text)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_core as mt


@pytest.fixture(params=["memory", "sqlite"])
def any_tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[mt.Tracker]:
    """A tracker on the in-memory store, then on the embedded SQLite store (which keeps NaN as ``"NaN"``)."""
    uri = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'store.db'}"
    with mt.connect(uri, artifacts=tmp_path / "artifacts") as tracker:
        yield tracker


def imputer_model(tracker: mt.Tracker, name: str, strategy: str, fill: float | None) -> mt.Model:
    """A model whose hyperparameters and transform parameters hold NaN in several shapes."""
    train = tracker.track_dataset(name="train", fingerprint="xxh3-128:train", target="y")
    nan = float("nan")  # a NaN object of this model's own: equality of NaN cannot come from identity
    parameters = [
        mt.Parameter.of("missing_values", nan, default=nan),  # a DOUBLE: read back as a float
        mt.Parameter(name="markers", value=[nan, -1.0]),  # a DOUBLE_ARRAY with a NaN item
        mt.Parameter(name="untyped", value=nan, typing=mt.TypeHint.UNKNOWN),  # over REST: the text "NaN"
        mt.Parameter(name="options", value={"missing": nan, "fill": fill}),  # NaN inside a mapping
        mt.Parameter.of("strategy", strategy, default="mean"),
    ]
    impute = tracker.track_transform(name="impute", operator="SimpleImputer", parameters=parameters)
    return tracker.track_model(
        name=name,
        learning_algorithm="Ridge",
        trained_on=train,
        transforms=[impute],
        hyperparameters=[mt.Parameter(name=f"impute__{p.name}", value=p.value, typing=p.typing) for p in parameters],
    )


def test_nan_valued_parameters_are_not_differences(any_tracker):
    first = imputer_model(any_tracker, "a", "mean", None)
    second = imputer_model(any_tracker, "b", "median", None)
    stored = any_tracker.get(second.id)
    assert math.isnan(stored.hyperparameters[0].value)  # the store really returns NaN, not something equal

    diff = any_tracker.diff(first, second)

    assert diff.hyperparameters == {"impute__strategy": ("mean", "median")}
    assert diff.transforms == {"impute.strategy": ("mean", "median")}
    assert any_tracker.diff(first, first).identical


def test_nan_against_a_number_is_still_a_difference(any_tracker):
    first = imputer_model(any_tracker, "a", "mean", None)
    second = imputer_model(any_tracker, "b", "mean", 0.0)

    diff = any_tracker.diff(first, second)

    assert list(diff.hyperparameters) == ["impute__options"]
    assert list(diff.transforms) == ["impute.options"]
    assert diff.hyperparameters["impute__options"][1]["fill"] == 0.0


def test_nan_as_a_float_and_nan_as_standard_json_text_are_the_same_value(tracker):
    train = tracker.track_dataset(name="train")
    float_nan, text_nan = (
        tracker.track_model(
            name="m",
            learning_algorithm="Ridge",
            trained_on=train,
            hyperparameters=[mt.Parameter(name="missing_values", value=value, typing=mt.TypeHint.UNKNOWN)],
        )
        for value in (float("nan"), "NaN")
    )

    assert tracker.diff(float_nan, text_nan).identical
