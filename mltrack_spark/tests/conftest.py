"""Fixtures: the shared ones (an isolated mltrack home, an in-memory tracker), one SparkSession for the whole run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

pytest_plugins = ["mltrack_core.testing.fixtures"]

# Set before the JVM starts: executors run this interpreter, and Spark binds to loopback without a warning.
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from mltrack_spark.framework import quiet_local_session

    session = quiet_local_session(
        "mltrack-spark tests",
        **{
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse")),
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def tickets(spark):
    """A small DataFrame with text, a category, numbers (one with a null and a NaN) and a label."""
    rows = []
    words = [
        "order late again",
        "thanks quick help",
        "refund broken app",
        "login question please",
        "invoice wrong again",
    ]
    for index in range(48):
        wait = float("nan") if index == 5 else None if index == 7 else float(index % 13) * 2.5
        rows.append(
            (
                words[index % 5] + (" urgent" if index % 3 == 0 else ""),
                ["email", "chat", "phone"][index % 3],
                wait,
                index % 4,
                float(index % 3 == 0 or index % 5 == 2),
            )
        )
    return spark.createDataFrame(rows, "text string, channel string, wait double, previous int, label double")


def feature_stages() -> list[object]:
    """A stage of every kind the DAG must get right: text, indexer, encoder, imputer, SQL, assembler, model."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import (
        IDF,
        Bucketizer,
        HashingTF,
        Imputer,
        OneHotEncoder,
        RFormula,
        SQLTransformer,
        StandardScaler,
        StopWordsRemover,
        StringIndexer,
        Tokenizer,
        VectorAssembler,
    )

    return [
        Tokenizer(inputCol="text", outputCol="words"),
        StopWordsRemover(inputCol="words", outputCol="tokens"),
        HashingTF(inputCol="tokens", outputCol="tf", numFeatures=64),
        IDF(inputCol="tf", outputCol="tfidf"),
        StringIndexer(inputCol="channel", outputCol="channel_index"),
        OneHotEncoder(inputCol="channel_index", outputCol="channel_vector"),
        Imputer(inputCols=["wait"], outputCols=["wait_filled"]),
        SQLTransformer(statement="SELECT *, log1p(wait_filled) AS log_wait, previous * 2 AS twice FROM __THIS__"),
        Bucketizer(inputCol="log_wait", outputCol="wait_bucket", splits=[-float("inf"), 1.0, 2.0, float("inf")]),
        RFormula(formula="label ~ channel + previous", featuresCol="rf_features", labelCol="rf_label"),
        VectorAssembler(inputCols=["tfidf", "channel_vector", "log_wait", "twice", "wait_bucket"], outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features"),
        LogisticRegression(maxIter=5, regParam=0.01),
        SQLTransformer(statement="SELECT text, label, prediction, probability FROM __THIS__"),
    ]


@pytest.fixture(scope="session")
def assembled(tickets):
    """The tickets with a one-column features vector."""
    from pyspark.ml.feature import VectorAssembler

    return VectorAssembler(inputCols=["previous"], outputCol="features").transform(tickets)


@pytest.fixture(scope="session")
def fitted_pipeline(tickets):
    """The feature pipeline fitted once, with plain Spark."""
    from pyspark.ml import Pipeline

    return Pipeline(stages=feature_stages()).fit(tickets)
