"""autolog, the DataFrame side: randomSplit parts, transformers applied by hand, evaluators, and the indexer leak."""

from __future__ import annotations

import pytest
from pyspark.ml import Pipeline, Transformer
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    Evaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.feature import IDF, HashingTF, StringIndexer, Tokenizer, VectorAssembler
from pyspark.sql import DataFrame

from mltrack_core.plugin import Dataset, TypeHint
from mltrack_spark import links
from mltrack_spark.autolog import autolog


@pytest.fixture
def autologged(tracker):
    """Automatic tracking into the test's tracker, always turned off afterwards."""
    autolog(tracker=tracker)
    yield tracker
    autolog(disable=True)


def by_id(tracker, kind):
    return {entity.id: entity for entity in tracker.find(kind)}


def test_random_split_parts_are_datasets_derived_from_the_source_with_their_row_counts(autologged, assembled):
    train, test = assembled.randomSplit([0.75, 0.25], seed=42)
    LogisticRegression(maxIter=3).fit(train)
    autologged.flush()

    (model,) = autologged.find("model")
    datasets = by_id(autologged, "dataset")
    part = datasets[model.trained_on]
    # Before: the part was recorded as a dataset of its own, under the source's name and location, with no link.
    assert len(part.derived_from) == 1
    source = datasets[part.derived_from[0]]
    assert source.row_count == 48 and not source.derived_from
    assert part.row_count == train.count()
    assert part.derivation == f"75% part of randomSplit([0.75, 0.25], seed=42): {part.row_count} of 48 rows"
    assert part.name.endswith("randomSplit part 1 of 2") and part.location is None
    assert part.target == "label"  # the label of the fit that used the part first
    (other,) = [dataset for dataset in datasets.values() if dataset.annotations.get("spark.split_part") == "1"]
    assert other.derived_from == (source.id,) and other.row_count == test.count() == 48 - part.row_count
    assert other.derivation.startswith("25% part of randomSplit([0.75, 0.25], seed=42)")
    assert len(datasets) == 3  # the source and two parts: the fit found its part, no fourth dataset


def test_a_split_without_a_seed_says_which_seed_spark_drew(autologged, assembled):
    parts = assembled.randomSplit([1.0, 2.0])
    assert all(isinstance(part, DataFrame) for part in parts)
    dataset = links.dataset_for(autologged, parts[1])
    assert dataset.derivation.startswith("66.67% part of randomSplit([1, 2], seed=None: Spark drew seed ")
    assert dataset.derivation.endswith(f"a different split at each run): {dataset.row_count} of 48 rows")


def test_transformers_applied_by_hand_are_transforms_in_the_lineage_of_the_data_fitted_on(autologged, tickets):
    words = Tokenizer(inputCol="text", outputCol="words").transform(tickets)
    hashed = HashingTF(inputCol="words", outputCol="tf", numFeatures=32).transform(words)
    idf_model = IDF(inputCol="tf", outputCol="features").fit(hashed)
    features = idf_model.transform(hashed)
    LogisticRegression(maxIter=3).fit(features)
    autologged.flush()

    transforms = by_id(autologged, "transform")
    by_hand = [t for t in transforms.values() if t.annotations.get("spark.applied")]
    tokenizer, hashing, idf = sorted(by_hand, key=lambda t: ["Tokenizer", "HashingTF", "IDFModel"].index(t.operator))
    # Before: none of them was recorded; the model's DAG began at the features column.
    assert [(c.name, c.typing) for c in tokenizer.input] == [("text", TypeHint.STRING)]
    assert [(c.name, c.typing) for c in tokenizer.output] == [("words", TypeHint.STRING_ARRAY)]
    assert [(c.name, c.typing) for c in hashing.output] == [("tf", TypeHint.VECTOR)]
    assert hashing.input_transforms == (tokenizer.id,) and idf.input_transforms == (hashing.id,)
    assert {p.name: p.value for p in hashing.parameters}["numFeatures"] == 32

    models = {model.learning_algorithm: model for model in autologged.find("model")}
    classifier, idf_fit = models["LogisticRegression"], models["IDF"]
    assert idf.annotations["spark.fitted_on"] == idf_fit.trained_on  # the IDF's own recorded fit
    assert classifier.transforms[:3] == (tokenizer.id, hashing.id, idf.id)
    assert idf.id in transforms[classifier.transforms[3]].input_transforms  # the model reads the IDF's column

    datasets = by_id(autologged, "dataset")
    trained_on = datasets[classifier.trained_on]
    source = datasets[trained_on.derived_from[0]]
    assert source.row_count == 48 and not source.derived_from
    assert trained_on.derivation.startswith(f"{source.name} transformed by Tokenizer, HashingTF, IDFModel applied by")
    assert trained_on.annotations["spark.transforms"] == f"{tokenizer.id}, {hashing.id}, {idf.id}"
    assert datasets[idf_fit.trained_on].derived_from == (source.id,)


def test_evaluate_records_the_score_of_the_model_on_the_dataset_it_predicted_on(autologged, assembled):
    train, test = assembled.randomSplit([0.7, 0.3], seed=1)
    fitted = LogisticRegression(maxIter=3).fit(train)
    predictions = fitted.transform(test)
    area = BinaryClassificationEvaluator(metricName="areaUnderPR").evaluate(predictions)
    rmse = RegressionEvaluator(metricName="rmse").evaluate(predictions)
    BinaryClassificationEvaluator().evaluate(predictions.select("label", "rawPrediction"))  # a new DataFrame
    autologged.flush()

    (model,) = autologged.find("model")
    evaluations = {e.scores[0].metric: e for e in autologged.find("evaluation")}
    # Before: evaluator.evaluate recorded nothing.
    assert set(evaluations) == {"areaUnderPR", "rmse"}  # the unlinked DataFrame recorded nothing
    pr, error = evaluations["areaUnderPR"], evaluations["rmse"]
    assert pr.scores[0].value == area and pr.scores[0].greater_is_better is True
    assert error.scores[0].value == rmse and error.scores[0].greater_is_better is False
    tested = autologged.get(pr.on_dataset)
    assert pr.computed_by == model.id and pr.procedure == "holdout" and pr.annotations["spark.evaluator"]
    assert tested.row_count == test.count() and tested.derivation.startswith("30% part of randomSplit")
    assert "spark.leak" not in pr.annotations

    fitted.transform(train)  # on the training part: resubstitution
    MulticlassClassificationEvaluator(metricName="accuracy").evaluate(fitted.transform(train))
    autologged.flush()
    (accuracy,) = [e for e in autologged.find("evaluation") if e.scores[0].metric == "accuracy"]
    assert accuracy.on_dataset == model.trained_on and accuracy.procedure == "resubstitution (training data)"


def test_an_indexer_fitted_on_all_the_data_is_recorded_as_having_seen_the_test_rows(autologged, tickets):
    indexer = StringIndexer(inputCol="channel", outputCol="channel_index").fit(tickets)
    train, test = tickets.randomSplit([0.7, 0.3], seed=3)
    assembler = VectorAssembler(inputCols=["channel_index", "previous"], outputCol="features")
    leaky = Pipeline(stages=[indexer, assembler, LogisticRegression(maxIter=3)]).fit(train)
    MulticlassClassificationEvaluator(metricName="accuracy").evaluate(leaky.transform(test))
    clean_indexer = StringIndexer(inputCol="channel", outputCol="channel_index").fit(train)
    clean = Pipeline(stages=[clean_indexer, assembler, LogisticRegression(maxIter=3)]).fit(train)
    MulticlassClassificationEvaluator(metricName="f1").evaluate(clean.transform(test))
    autologged.flush()

    indexers = [
        autologged.get(m.trained_on) for m in autologged.find("model") if m.learning_algorithm == "StringIndexer"
    ]
    (full_data,) = [dataset for dataset in indexers if not dataset.derived_from]
    full = full_data.id
    assert full_data.row_count == 48
    evaluations = {e.scores[0].metric: e for e in autologged.find("evaluation")}
    test_data = autologged.get(evaluations["accuracy"].on_dataset)
    # Before: nothing said that the indexer had seen the test rows.
    assert evaluations["accuracy"].annotations["spark.leak"] == (
        f"StringIndexerModel (stages[0]) was fitted on dataset {full} ({full_data.name}), which includes the rows "
        f"of test dataset {test_data.id} ({test_data.name})"
    )
    assert "spark.leak" not in evaluations["f1"].annotations  # that indexer saw the training part only
    leaky_model = autologged.get(evaluations["accuracy"].computed_by)
    stage = autologged.get(leaky_model.transforms[0])
    assert stage.operator == "StringIndexerModel" and stage.annotations["spark.fitted_on"] == full


def test_an_indexer_applied_by_hand_to_all_the_data_before_the_split_is_a_leak_too(autologged, tickets):
    indexer = StringIndexer(inputCol="channel", outputCol="channel_index").fit(tickets)
    indexed = indexer.transform(tickets)
    train, test = indexed.randomSplit([0.7, 0.3], seed=3)
    assembler = VectorAssembler(inputCols=["channel_index", "previous"], outputCol="features")
    fitted = Pipeline(stages=[assembler, LogisticRegression(maxIter=3)]).fit(train)
    MulticlassClassificationEvaluator().evaluate(fitted.transform(test))
    autologged.flush()

    (evaluation,) = autologged.find("evaluation")
    assert evaluation.annotations["spark.leak"].startswith("StringIndexerModel was fitted on dataset ")
    model = autologged.get(evaluation.computed_by)
    indexing = autologged.get(model.transforms[0])  # the indexer applied by hand starts the model's DAG
    assert indexing.operator == "StringIndexerModel" and indexing.annotations["spark.applied"]
    tested = autologged.get(evaluation.on_dataset)
    assert autologged.get(tested.derived_from[0]).annotations["spark.transforms"] == indexing.id


def test_turning_autolog_off_gives_back_sparks_own_methods(tracker):
    autolog(disable=True)
    originals = (vars(DataFrame).get("randomSplit"), vars(Transformer)["transform"], vars(Evaluator)["evaluate"])
    autolog(tracker=tracker)
    try:
        assert vars(Transformer)["transform"] is not originals[1]
        assert vars(Evaluator)["evaluate"] is not originals[2]
    finally:
        autolog(disable=True)
    assert (
        vars(DataFrame).get("randomSplit"),
        vars(Transformer)["transform"],
        vars(Evaluator)["evaluate"],
    ) == originals


def test_links_keep_no_dataframe_alive_and_belong_to_their_tracker(autologged, tickets):
    import gc
    import weakref

    tokenizer = Tokenizer(inputCol="text", outputCol="words")
    words = tokenizer.transform(tickets)
    again = tokenizer.transform(tickets)  # the same transformer on the same input: one Transform, both linked
    assert links.upstream_transforms(again) == links.upstream_transforms(words)
    autologged.flush()
    assert autologged.count("transform") == 1
    gone = weakref.ref(words)
    assert links.upstream_transforms(words, autologged)
    assert links.upstream_transforms(words, tracker=object()) == ()  # another tracker does not see them
    del words
    gc.collect()
    assert gone() is None
    dataset = links.dataset_for(autologged, tickets)
    assert isinstance(dataset, Dataset) and links.dataset_for(autologged, tickets) is dataset
