"""The Spark part of ``mltrack demo``: a text and tabular pipeline tuned by cross-validation.

The demo generates (seeded, so every run writes the same rows) a CSV file of
support tickets: the ticket's text, the channel it came through, the minutes
the customer waited, their earlier tickets, and whether it was escalated. Spark
reads the file; the full data and its seeded random split are tracked with
statistics computed by Spark. A :class:`~mltrack_spark.TrackedPipeline`
(tokenizer, stop words, hashing TF-IDF, channel indexing and one-hot encoding,
an SQL feature, an assembler, and a logistic regression tuned by a 3-fold
CrossValidator) and a tabular-only baseline are fitted and evaluated on the
held-out split; the column DAG recorded for the tuned model is printed.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import DemoResult
from mltrack_spark.framework import java_missing_reason, pyspark_version, quiet_local_session

if TYPE_CHECKING:
    from collections.abc import Callable

    from mltrack_core.plugin import Tracker

__all__ = ["run_demo"]

SEED = 7
ROWS = 1200
TITLE = "Spark ML: support tickets, text + tabular pipeline tuned by CrossValidator"
_TOPICS = ["order", "account", "password", "invoice", "delivery", "app", "login", "refund", "update", "payment"]
_ANGRY = ["broken", "angry", "cancel", "urgent", "again", "terrible", "unacceptable", "worst"]
_CALM = ["thanks", "please", "help", "quick", "question", "small", "kindly", "appreciate"]
_FILLER = ["the", "my", "is", "a", "with", "not", "and", "for", "it", "this"]
_CHANNELS = ["email", "chat", "phone"]
_SCHEMA = "ticket string, channel string, wait_minutes double, previous_tickets int, escalated double"


def run_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Record the Spark experiment; None (after saying why, in one line) when Spark cannot run here."""
    if pyspark_version() is None:
        say("Spark part skipped: PySpark is not installed (pip install 'mltrack-spark[instruments]')")
        return None
    reason = java_missing_reason()
    if reason is not None:
        say(f"Spark part skipped: {reason}")
        return None
    try:
        spark, started_here = _session()
    except Exception as exc:  # noqa: BLE001 - a JVM that does not start (wrong Java version, no memory): the rest of the demo runs
        say(f"Spark part skipped: Spark did not start ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})")
        return None
    try:
        return _experiment(tracker, spark, folder, say)
    finally:
        if started_here:
            spark.stop()


def _session() -> tuple[Any, bool]:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:
        return SparkSession.builder.getOrCreate(), False
    return quiet_local_session("mltrack demo"), True


def _experiment(tracker: Tracker, spark: Any, folder: Path, say: Callable[[str], None]) -> DemoResult:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import (
        IDF,
        HashingTF,
        OneHotEncoder,
        SQLTransformer,
        StopWordsRemover,
        StringIndexer,
        Tokenizer,
        VectorAssembler,
    )
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    from mltrack_spark.evaluation import track_evaluation
    from mltrack_spark.tracked import TrackedPipeline

    data_file = folder / "support-tickets.csv"
    _write_tickets(data_file)
    tickets = spark.read.csv(data_file.resolve().as_uri(), header=True, schema=_SCHEMA)
    full = tracker.track_dataset(tickets, name="support-tickets", target="escalated", version="1")
    train, test = tickets.randomSplit([0.75, 0.25], seed=SEED)
    train.cache()
    splits = {}
    for part, frame in (("train", train), ("test", test)):
        splits[part] = tracker.track_dataset(
            frame,
            name=f"support-tickets-{part}",
            target="escalated",
            derived_from=[full],
            derivation=f"{part} part of randomSplit([0.75, 0.25], seed={SEED})",
        )
    say(
        f"tracked dataset {full.name} ({full.row_count} rows, statistics computed by Spark) "
        f"and its train/test splits ({splits['train'].row_count}/{splits['test'].row_count} rows)"
    )

    channel = [
        StringIndexer(inputCol="channel", outputCol="channel_index"),
        OneHotEncoder(inputCol="channel_index", outputCol="channel_vector"),
        SQLTransformer(statement="SELECT *, log1p(wait_minutes) AS log_wait FROM __THIS__"),
    ]
    text = [
        Tokenizer(inputCol="ticket", outputCol="words"),
        StopWordsRemover(inputCol="words", outputCol="tokens"),
        HashingTF(inputCol="tokens", outputCol="term_frequencies", numFeatures=256),
        IDF(inputCol="term_frequencies", outputCol="tfidf"),
    ]
    learner = LogisticRegression(labelCol="escalated", maxIter=25)
    evaluator = BinaryClassificationEvaluator(labelCol="escalated")
    tuned = CrossValidator(
        estimator=learner,
        estimatorParamMaps=ParamGridBuilder().addGrid(learner.regParam, [0.01, 0.1, 1.0]).build(),
        evaluator=evaluator,
        numFolds=3,
        seed=SEED,
        parallelism=2,
    )
    candidates = {
        "tickets-text-tabular-cv": [
            *text,
            *channel,
            VectorAssembler(
                inputCols=["tfidf", "channel_vector", "log_wait", "previous_tickets"], outputCol="features"
            ),
            tuned,
        ],
        "tickets-tabular": [
            *[stage.copy() for stage in channel],
            VectorAssembler(inputCols=["channel_vector", "log_wait", "previous_tickets"], outputCol="features"),
            LogisticRegression(labelCol="escalated", maxIter=25),
        ],
    }
    shown = None
    for name, stages in candidates.items():
        fitted = TrackedPipeline(stages=stages, tracker=tracker, name=name).fit(train)
        evaluation = track_evaluation(
            evaluator,
            fitted.transform(test),
            computed_by=fitted,
            on_dataset=splits["test"],
            metrics=["areaUnderROC", "areaUnderPR"],
            tracker=tracker,
        )
        say(f"fitted and tracked {name}: test areaUnderROC {evaluation.score('areaUnderROC').value:.3f}")
        shown = shown or tracker.get(evaluation.computed_by)
    train.unpersist()
    _say_column_dag(tracker, shown, say)
    return DemoResult(TITLE, splits["test"], "areaUnderROC")


def _say_column_dag(tracker: Tracker, model: Any, say: Callable[[str], None]) -> None:
    say(f"column DAG of {model.name} (from schema replay; model {model.id}):")
    found = tracker.get_many(list(model.transforms))
    for transform in (found[transform_id] for transform_id in model.transforms):
        inputs = ", ".join(column.name for column in transform.input) or "?"
        outputs = ", ".join(f"{column.name} ({column.typing.value})" for column in transform.output) or "-"
        say(f"  {transform.operator}: {inputs} -> {outputs}")


def _write_tickets(path: Path) -> None:
    generator = random.Random(SEED)
    rows = []
    for _ in range(ROWS):
        channel = generator.choice(_CHANNELS)
        wait = round(generator.expovariate(1 / 12), 1)
        previous = min(int(generator.expovariate(1 / 1.5)), 12)
        temper = generator.gauss(0, 1)
        angry_words = max(0, round(1.2 * temper + generator.gauss(0, 0.7)))
        words = [generator.choice(_TOPICS) for _ in range(2)] + [generator.choice(_FILLER) for _ in range(4)]
        words += [generator.choice(_ANGRY) for _ in range(angry_words)]
        words += [generator.choice(_CALM) for _ in range(max(0, 2 - angry_words))]
        generator.shuffle(words)
        logit = -2.2 + 0.9 * temper + 0.05 * wait + 0.35 * previous + (0.8 if channel == "phone" else 0.0)
        escalated = 1.0 if generator.random() < 1 / (1 + math.exp(-logit)) else 0.0
        rows.append((" ".join(words).capitalize(), channel, wait, previous, escalated))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket", "channel", "wait_minutes", "previous_tickets", "escalated"])
        writer.writerows(rows)
