"""Dataset metadata computed by Spark: schema, statistics, histograms, fingerprint, location."""

from __future__ import annotations

import statistics

import pytest
from pyspark.sql import functions as F

from mltrack_core import SchemaError, TypeHint
from mltrack_spark import describe_dataframe


def _path_of(uri):
    """The local path of a file: URI in either of Hadoop's spellings (file:/p, file:///p)."""
    assert uri.startswith("file:")
    return "/" + uri.removeprefix("file:").lstrip("/")


def _statistic(dataset, name, column):
    for statistic in dataset.statistics:
        if statistic.name == name and column in statistic.columns:
            return statistic.value[statistic.columns.index(column)]
    raise KeyError((name, column))


def test_schema_rows_and_statistics_are_those_of_the_data(tickets):
    dataset = describe_dataframe(tickets, target="label")
    rows = tickets.collect()
    assert dataset.row_count == len(rows) == 48
    assert [(c.name, c.typing) for c in dataset.schema] == [
        ("text", TypeHint.STRING),
        ("channel", TypeHint.STRING),
        ("wait", TypeHint.DOUBLE),
        ("previous", TypeHint.INT),
        ("label", TypeHint.DOUBLE),
    ]
    assert dataset.target == "label"
    assert _statistic(dataset, "missing", "wait") == 2  # one null, one NaN
    assert _statistic(dataset, "missing", "text") == 0
    waits = [row["wait"] for row in rows if row["wait"] is not None and row["wait"] == row["wait"]]
    assert _statistic(dataset, "mean", "wait") == pytest.approx(statistics.mean(waits))
    assert _statistic(dataset, "std", "wait") == pytest.approx(statistics.stdev(waits))
    assert _statistic(dataset, "min", "wait") == min(waits)
    assert _statistic(dataset, "max", "previous") == 3
    assert _statistic(dataset, "approx_distinct", "channel") == 3
    assert "spark.schema" in dataset.annotations


def test_histograms_count_every_present_value(tickets):
    dataset = describe_dataframe(tickets)
    histograms = {histogram.column: histogram for histogram in dataset.histograms}
    wait = histograms["wait"]
    assert wait.name == "equal-width" and len(wait.bucket_values) == 10 and len(wait.bucket_labels) == 11
    assert sum(wait.bucket_values) == 46
    channel = histograms["channel"]
    expected = {row["channel"]: row["count"] for row in tickets.groupBy("channel").count().collect()}
    assert dict(zip(channel.bucket_labels, channel.bucket_values, strict=False)) == expected
    assert "text" in histograms and histograms["text"].name == "value counts"  # 10 distinct texts


def test_the_number_of_spark_jobs_does_not_grow_with_the_columns(spark):
    narrow = spark.range(200).select((F.col("id") % 7).alias("a"), F.col("id").cast("string").alias("s"))
    wide = spark.range(200).select(*[(F.col("id") * k % 11).alias(f"c{k}") for k in range(40)])
    context, status = spark.sparkContext, spark.sparkContext.statusTracker()
    jobs = []
    for index, frame in enumerate((narrow, wide)):
        group = f"mltrack-spark-passes-{index}"
        context.setJobGroup(group, "describe", False)
        try:
            describe_dataframe(frame)
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)
        jobs.append(len(status.getJobIdsForGroup(group)))
    assert jobs[0] == jobs[1]
    assert 2 <= jobs[0] <= 6


def test_the_fingerprint_ignores_row_order_and_partitioning(tickets):
    first = describe_dataframe(tickets, statistics=False).fingerprint
    shuffled = describe_dataframe(tickets.repartition(5).orderBy(F.rand(3)), statistics=False).fingerprint
    assert first == shuffled and first.startswith("spark-xxhash64-sum:")
    changed = describe_dataframe(tickets.limit(47), statistics=False).fingerprint
    assert changed != first
    renamed = describe_dataframe(tickets.withColumnRenamed("wait", "delay"), statistics=False).fingerprint
    assert renamed != first


def test_the_fingerprint_survives_ansi_mode_and_large_sums(spark):
    frame = spark.range(3000).select(F.col("id"), (F.col("id") * 7919).cast("string").alias("s"))
    previous = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        with pytest.raises(Exception, match="(?i)overflow"):  # what a plain sum of the hashes does
            frame.agg(F.sum(F.xxhash64("id", "s"))).collect()
        dataset = describe_dataframe(frame)
    finally:
        spark.conf.set("spark.sql.ansi.enabled", previous)
    assert dataset.fingerprint == describe_dataframe(frame, statistics=False).fingerprint
    assert dataset.row_count == 3000


def test_map_columns_are_fingerprinted_through_json(spark):
    frame = spark.createDataFrame([({"a": 1}, 1), ({"b": 2}, 2)], "m map<string,int>, n int")
    other = spark.createDataFrame([({"a": 1}, 1), ({"b": 3}, 2)], "m map<string,int>, n int")
    assert describe_dataframe(frame).fingerprint != describe_dataframe(other).fingerprint
    assert _statistic(describe_dataframe(frame), "missing", "m") == 0


def test_location_of_files_and_tables(spark, tmp_path):
    frame = spark.range(10).select(F.col("id"), (F.col("id") % 3).alias("k"))
    folder = tmp_path / "numbers.parquet"
    frame.repartition(2).write.parquet(str(folder))
    parquet = describe_dataframe(spark.read.parquet(str(folder)), statistics=False, fingerprint=False)
    assert _path_of(parquet.location) == str(folder.resolve())
    assert parquet.name == "numbers.parquet" and parquet.annotations["spark.input_files"] == "2"
    assert parquet.row_count is None and parquet.fingerprint is None
    csv_file = tmp_path / "one.csv"
    csv_file.write_text("id,k\n1,2\n")
    single = describe_dataframe(spark.read.csv(str(csv_file), header=True, schema="id int, k int"), fingerprint=False)
    assert _path_of(single.location) == str(csv_file.resolve()) and single.row_count == 1
    frame.write.saveAsTable("mltrack_numbers")
    try:
        table = describe_dataframe(spark.table("mltrack_numbers"), statistics=False)
    finally:
        spark.sql("DROP TABLE mltrack_numbers")
    assert table.name == "spark_catalog.default.mltrack_numbers" or table.name.endswith("mltrack_numbers")
    assert table.annotations["spark.table"] == table.name
    assert table.location.endswith("/mltrack_numbers")
    assert describe_dataframe(frame, statistics=False).location is None


def test_a_target_that_is_not_a_column_is_refused(tickets):
    with pytest.raises(SchemaError, match="target='nope' is not a column.*text, channel"):
        describe_dataframe(tickets, target="nope")


def test_tracking_a_dataframe_through_the_tracker(tracker, tickets):
    dataset = tracker.track_dataset(tickets, name="tickets", target="label", tags={"source": "test"})
    assert tracker.get(dataset.id) == dataset
    assert dataset.name == "tickets" and dataset.tags == {"source": "test"}
    with pytest.raises(SchemaError, match="label column"):
        tracker.track_dataset(tickets, target=["label"])
