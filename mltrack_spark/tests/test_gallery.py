"""Spark's own example programs, unmodified, under ``mltrack run``: each fit, tuning, split and evaluation, right.

Each program in ``gallery/`` has the shape of one of Spark's examples and no line
of mltrack. It runs twice in a subprocess, plainly and under ``python -m
mltrack_core.run``: its output must be the same, and the store must hold what it
computed, with lineage from every evaluation back to its source data. A JVM
starts for each run (seconds): each program runs once of each kind, on first use.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.testing.gallery import Gallery

GALLERY = Path(__file__).parent / "gallery"


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Runs a gallery program once plainly and once tracked; returns (tracker, plain stdout, tracked process)."""
    with Gallery(GALLERY, tmp_path_factory.mktemp("gallery")) as gallery:

        def run(name):
            tracker, plain, tracked = gallery.run(name)
            return tracker, plain.stdout, tracked

        yield run


# ---------------------------------------------------------------- what every program must satisfy


def _top_level_models(tracker):
    return [m for m in tracker.find("model") if "spark.tuning.candidate" not in m.annotations]


def _candidates(tracker):
    found = [m for m in tracker.find("model") if "spark.tuning.candidate" in m.annotations]
    return sorted(found, key=lambda m: int(m.annotations["spark.tuning.candidate"]))


def _source_of(tracker, dataset):
    """Follow ``derived_from`` to the dataset the data came from."""
    while dataset.derived_from:
        dataset = tracker.get(dataset.derived_from[0])
    return dataset


def _check_common(tracker, plain_stdout, tracked, unlabelled=()):
    """``unlabelled``: learning algorithms fitted without a label column (IDF, StringIndexer): no target to check."""
    assert tracked.stdout == plain_stdout  # tracking changed no result the program printed
    (summary,) = re.findall(r"^mltrack: recorded (.*) in sqlite", tracked.stderr, re.MULTILINE)
    said = {kind: int(count) for count, kind in re.findall(r"(\d+) (model|dataset|evaluation)s?\b", summary)}
    assert said == {kind: tracker.count(kind) for kind in ("model", "dataset", "evaluation") if tracker.count(kind)}
    assert "Traceback" not in tracked.stderr and "TrackingWarning" not in tracked.stderr, tracked.stderr
    runs = tracker.find("run")
    assert runs and all(run.state is mt.TrainingState.FINISHED for run in runs)
    assert len(runs) == len(_top_level_models(tracker))  # one run per top-level fit, none for nested fits
    for model in _top_level_models(tracker):
        if model.learning_algorithm in unlabelled:
            continue
        dataset = tracker.get(model.trained_on)
        assert dataset.target == "label", f"{model.name} trained on {dataset.name} without target"
    for evaluation in tracker.find("evaluation"):
        dataset = tracker.get(evaluation.on_dataset)
        source = _source_of(tracker, dataset)
        assert source.row_count is not None and source.row_count >= dataset.row_count
        assert tracker.get(evaluation.computed_by).KIND == "model"


def _scores(evaluation):
    return {score.metric: score.value for score in evaluation.scores}


def _fold_parts(tracker, dataset):
    """{(fold, part): dataset} of the folds drawn from ``dataset``."""
    return {
        (int(d.annotations["spark.fold"]), d.annotations["spark.fold_part"]): d
        for d in tracker.find("dataset", derived_from=dataset)
        if "spark.fold" in d.annotations
    }


# ---------------------------------------------------------------- the programs


def test_pipeline(programs):
    tracker, plain, tracked = programs("pipeline")
    _check_common(tracker, plain, tracked)
    (model,) = _top_level_models(tracker)
    assert model.learning_algorithm == "LogisticRegression"
    assert model.name == "Tokenizer -> HashingTF -> LogisticRegression"
    dataset = tracker.get(model.trained_on)
    assert dataset.row_count == 4 and [column.name for column in dataset.schema] == ["id", "text", "label"]
    transforms = [tracker.get(identifier) for identifier in model.transforms]
    assert [t.operator for t in transforms] == ["Tokenizer", "HashingTF", "LogisticRegressionModel"]
    assert transforms[2].input_transforms == (transforms[1].id,)
    values = {p.name: p.value for p in model.hyperparameters}
    assert values["stages[2].LogisticRegressionModel.regParam"] == 0.001


def test_cross_validator(programs, spark):
    from pyspark.ml.tuning import CrossValidator

    tracker, plain, tracked = programs("cross_validator")
    _check_common(tracker, plain, tracked)
    (model,) = _top_level_models(tracker)
    assert model.learning_algorithm == "LogisticRegression"
    training = tracker.get(model.trained_on)
    assert training.row_count == 12
    # the folds, with the rows Spark's own _kFold gives for the program's data and seed
    rows = [(index, text, float(index % 2 == 0)) for index, text in enumerate(CROSS_VALIDATOR_TEXTS)]
    data = spark.createDataFrame(rows, ["id", "text", "label"])
    expected = [
        (train.count(), validation.count()) for train, validation in CrossValidator(numFolds=2, seed=42)._kFold(data)
    ]
    parts = _fold_parts(tracker, training)
    assert [(parts[(k, "training")].row_count, parts[(k, "validation")].row_count) for k in range(2)] == expected
    # six candidates, their averaged metric, the winner and its refit
    candidates = _candidates(tracker)
    printed = [float(value) for value in re.findall(r"[\d.]+", plain.splitlines()[-1].split(":", 1)[1])]
    assert len(candidates) == 6
    metrics = []
    for candidate in candidates:
        (evaluation,) = tracker.find("evaluation", computed_by=candidate)
        assert evaluation.procedure == "2-fold cross-validation" and evaluation.on_dataset == training.id
        assert evaluation.scores[0].greater_is_better is True
        metrics.append(_scores(evaluation)["areaUnderROC"])
    assert [round(value, 6) for value in metrics] == printed
    best = [c for c in candidates if c.annotations["spark.tuning.best"] == "true"]
    assert len(best) == 1 and best[0].annotations["spark.tuning.refit_model"] == model.id
    assert metrics[int(best[0].annotations["spark.tuning.candidate"])] == max(metrics)
    (chosen,) = tracker.find("evaluation", computed_by=model)
    assert _scores(chosen) == {"areaUnderROC": max(metrics)} and chosen.procedure == "2-fold cross-validation"


def test_train_validation_split(programs, spark):
    from pyspark.sql import functions as F

    tracker, plain, tracked = programs("train_validation_split")
    _check_common(tracker, plain, tracked)
    (model,) = _top_level_models(tracker)
    assert model.learning_algorithm == "LinearRegression"
    training = tracker.get(model.trained_on)
    parts = _fold_parts(tracker, training)
    assert sorted(parts) == [(0, "training"), (0, "validation")]
    # the rows Spark's TrainValidationSplit drew: rand(seed) >= trainRatio is the validation part
    train = _train_validation_data(spark).randomSplit([0.9, 0.1], seed=12345)[0]
    validation = train.select("*", F.rand(42).alias("r")).where(F.col("r") >= 0.8).count()
    assert training.row_count == train.count()
    assert (parts[(0, "training")].row_count, parts[(0, "validation")].row_count) == (
        training.row_count - validation,
        validation,
    )
    candidates = _candidates(tracker)
    assert len(candidates) == 12 and {c.trained_on for c in candidates} == {parts[(0, "training")].id}
    printed = [float(value) for value in re.findall(r"[\d.]+", plain.splitlines()[-1].split(":", 1)[1])]
    for candidate, value in zip(candidates, printed, strict=True):
        (evaluation,) = tracker.find("evaluation", computed_by=candidate)
        assert evaluation.on_dataset == parts[(0, "validation")].id
        assert evaluation.procedure == "train-validation split (trainRatio 0.8)"
        assert round(_scores(evaluation)["rmse"], 4) == value and evaluation.scores[0].greater_is_better is False


def test_tfidf_by_hand(programs):
    tracker, plain, tracked = programs("tfidf_by_hand")
    _check_common(tracker, plain, tracked, unlabelled=("IDF",))
    models = {model.learning_algorithm: model for model in _top_level_models(tracker)}
    classifier, idf = models["LogisticRegression"], models["IDF"]
    # the transformers applied by hand start the classifier's column DAG, in order
    transforms = [tracker.get(identifier) for identifier in classifier.transforms]
    assert [t.operator for t in transforms] == ["Tokenizer", "HashingTF", "IDFModel", "LogisticRegressionModel"]
    assert (
        all(t.annotations["spark.applied"] for t in transforms[:3]) and "spark.applied" not in transforms[3].annotations
    )
    assert [t.input_transforms for t in transforms] == [(), *((t.id,) for t in transforms[:3])]
    assert transforms[2].annotations["spark.fitted_on"] == idf.trained_on
    # the training part of the split of the featurized data, derived from the sentences
    training = tracker.get(classifier.trained_on)
    featurized = tracker.get(training.derived_from[0])
    source = tracker.get(featurized.derived_from[0])
    assert training.derivation == f"75% part of randomSplit([0.75, 0.25], seed=42): {training.row_count} of 120 rows"
    assert featurized.derivation.startswith(f"{source.name} transformed by Tokenizer, HashingTF, IDFModel applied")
    assert featurized.annotations["spark.transforms"] == ", ".join(t.id for t in transforms[:3])
    assert source.row_count == 120 and [c.name for c in source.schema] == ["label", "sentence"]
    assert not source.derived_from and tracker.get(idf.trained_on).derived_from == (source.id,)
    # the evaluation: the classifier on the test part, with the value the program printed
    (evaluation,) = tracker.find("evaluation")
    tested = tracker.get(evaluation.on_dataset)
    assert evaluation.computed_by == classifier.id and evaluation.procedure == "holdout"
    assert tested.derived_from == (featurized.id,) and tested.row_count + training.row_count == 120
    assert tested.derivation.startswith("25% part of randomSplit([0.75, 0.25], seed=42)")
    assert evaluation.scores[0].greater_is_better is True
    assert plain.splitlines()[-1] == f"Test areaUnderROC = {_scores(evaluation)['areaUnderROC']:g}"


def test_random_forest_split(programs):
    tracker, plain, tracked = programs("random_forest_split")
    _check_common(tracker, plain, tracked, unlabelled=("StringIndexer", "VectorIndexer", "RandomForestClassifier"))
    models = {model.learning_algorithm: model for model in _top_level_models(tracker)}
    forest, indexer = models["RandomForestClassifier"], models["StringIndexer"]
    assert models["VectorIndexer"].trained_on == indexer.trained_on  # both fitted on all the data, as the example does
    data = tracker.get(indexer.trained_on)
    raw = tracker.get(data.derived_from[0])
    assert raw.row_count == data.row_count == 180 and not raw.derived_from
    assert data.derivation.startswith(f"{raw.name} transformed by VectorAssembler applied by hand")
    # the split: two parts of the data, with their row counts
    training = tracker.get(forest.trained_on)
    (evaluation,) = tracker.find("evaluation")
    tested = tracker.get(evaluation.on_dataset)
    assert training.derived_from == tested.derived_from == (data.id,)
    assert training.derivation == f"70% part of randomSplit([0.7, 0.3], seed=11): {training.row_count} of 180 rows"
    assert tested.derivation == f"30% part of randomSplit([0.7, 0.3], seed=11): {tested.row_count} of 180 rows"
    assert training.row_count + tested.row_count == 180 and training.location is None is tested.location
    # the forest's DAG: the assembler applied by hand, then the pipeline's stages; the indexers fitted on all the data
    transforms = [tracker.get(identifier) for identifier in forest.transforms]
    operators = ["VectorAssembler", "StringIndexerModel", "VectorIndexerModel", "RandomForestClassificationModel"]
    assert [t.operator for t in transforms] == [*operators, "IndexToString"]
    assert transforms[1].annotations["spark.fitted_on"] == transforms[2].annotations["spark.fitted_on"] == data.id
    assert transforms[2].input_transforms == (transforms[0].id,)
    # the evaluation: accuracy of the forest on the test part, and the indexers that saw the test rows
    assert evaluation.computed_by == forest.id and evaluation.procedure == "holdout"
    assert plain.splitlines()[-1] == f"Test Error = {1.0 - _scores(evaluation)['accuracy']:g}"
    assert evaluation.annotations["spark.leak"] == "; ".join(
        f"{stage} was fitted on dataset {data.id} ({data.name}), which includes the rows of test dataset "
        f"{tested.id} ({tested.name})"
        for stage in ("StringIndexerModel (stages[0])", "VectorIndexerModel (stages[1])")
    )


# ---------------------------------------------------------------- the programs' data, to check against Spark

CROSS_VALIDATOR_TEXTS = [
    "a b c d e spark",
    "b d",
    "spark f g h",
    "hadoop mapreduce",
    "b spark who",
    "g d a y",
    "spark fly",
    "was mapreduce",
    "e spark program",
    "a e c l",
    "spark compile",
    "hadoop software",
]


def _train_validation_data(spark):
    import random

    from pyspark.ml.linalg import Vectors

    generator = random.Random(0)
    rows = []
    for _ in range(300):
        x = [generator.uniform(-1, 1) for _ in range(3)]
        rows.append((Vectors.dense(x), 3 * x[0] - 2 * x[1] + 0.5 * x[2] + 4 + generator.gauss(0, 0.3)))
    return spark.createDataFrame(rows, ["features", "label"])
