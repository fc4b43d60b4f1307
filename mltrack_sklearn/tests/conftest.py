"""Fixtures: the shared ones (isolated mltrack home, in-memory tracker), datasets shipped with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

import mltrack_core as mt

pytest_plugins = ["mltrack_core.testing.fixtures"]


@pytest.fixture(scope="session")
def wine() -> tuple[pd.DataFrame, pd.Series]:
    """Wine as a DataFrame, plus a text column and a column with missing values (both derived from the data)."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.copy()
    X["strength"] = np.where(X["alcohol"] > X["alcohol"].median(), "strong", "light")
    X.loc[X.index[::7], "magnesium"] = np.nan
    return X, y


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    return load_diabetes(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    return load_breast_cancer(return_X_y=True)


@pytest.fixture
def vertices(tracker: mt.Tracker):
    """A function returning a model's transform vertices by name."""

    def of(model: mt.Model) -> dict[str, mt.Transform]:
        found = tracker.get_many(list(model.transforms))
        return {found[id_].name: found[id_] for id_ in model.transforms}

    return of
