"""Speed of mltrack-spark: schema replay of a 30-stage pipeline, and what tracking adds to a pipeline fit.

Run with ``python benchmarks/spark_bench.py [--rows N] [--repeats N]`` (PySpark and
Java 17 needed; ``nox -s benchmarks`` runs it). Figures are printed, never asserted:

* schema replay of a 30-stage pipeline (10 x SQLTransformer, VectorAssembler,
  StandardScaler) after the JVM is up: the first call and the median of the
  next ones, and the Spark jobs it launched (aim: under a second, no job);
* the column DAG with every parameter of the fitted 30-stage pipeline (what
  ``track_model`` extracts);
* a pipeline fit with and without tracking (TrackedPipeline vs Pipeline, the
  same cached DataFrame, runs alternating, medians): the ratio, and how long
  describing the DataFrame (two Spark aggregations) takes on its own;
* the automatic path on a fit long enough to matter (``--auto-rows`` rows,
  ``--auto-iterations`` iterations of LogisticRegression: at least 10 s on 2
  cores): a plain ``Pipeline.fit``, the same fit under ``mltrack_spark.autolog()``
  and a TrackedPipeline's, alternating, medians, ratios (aim: at most 1.05). The
  tracked times include waiting for the tracker's background writes
  (``tracker.flush()``), so nothing recorded overlaps the next fit.
  ``--only-automatic`` runs this part alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from mltrack_spark.framework import quiet_local_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the fitted DataFrame")
    parser.add_argument("--repeats", type=int, default=5, help="fits of each kind (and replays x2)")
    parser.add_argument("--auto-rows", type=int, default=2_000_000, help="rows of the automatic path's fit")
    parser.add_argument("--auto-iterations", type=int, default=60, help="LogisticRegression iterations (tol 0)")
    parser.add_argument("--auto-repeats", type=int, default=3, help="fits of each kind on the automatic path")
    parser.add_argument("--only-automatic", action="store_true", help="measure the automatic path only")
    options = parser.parse_args()

    started = time.perf_counter()
    spark = session()
    print(f"pyspark {spark.version}, {spark.sparkContext.master}, JVM up in {time.perf_counter() - started:.1f} s")
    if not options.only_automatic:
        replay_figures(spark, options.repeats * 2)
        fit_figures(spark, options.rows, options.repeats)
    automatic_figures(spark, options.auto_rows, options.auto_iterations, options.auto_repeats)
    spark.stop()


def session():
    return quiet_local_session("mltrack-spark benchmark")


def thirty_stages() -> list[object]:
    from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler

    stages: list[object] = []
    for k in range(10):
        stages += [
            SQLTransformer(statement=f"SELECT *, c{k} * 2 AS d{k} FROM __THIS__"),
            VectorAssembler(inputCols=[f"c{k}", f"d{k}"], outputCol=f"v{k}"),
            StandardScaler(inputCol=f"v{k}", outputCol=f"s{k}"),
        ]
    return stages


def replay_figures(spark, repeats: int) -> None:
    from pyspark.ml import Pipeline

    from mltrack_spark import replay_schema
    from mltrack_spark.dag import build_dag

    frame = spark.createDataFrame(
        [tuple(float(j + i) for j in range(10)) for i in range(50)], [f"c{j}" for j in range(10)]
    )
    pipeline = Pipeline(stages=thirty_stages())
    context, status = spark.sparkContext, spark.sparkContext.statusTracker()
    context.setJobGroup("mltrack-bench-replay", "schema replay", False)
    timings = []
    for _ in range(repeats + 1):
        begin = time.perf_counter()
        replayed = replay_schema(pipeline, frame)
        timings.append(time.perf_counter() - begin)
    jobs = len(status.getJobIdsForGroup("mltrack-bench-replay"))
    context.setLocalProperty("spark.jobGroup.id", None)
    assert len(replayed) == 30  # the benchmark measures what it claims to
    print(
        f"schema replay, 30-stage pipeline: first {timings[0] * 1000:.0f} ms, "
        f"median of {repeats} {statistics.median(timings[1:]) * 1000:.0f} ms (aim < 1000 ms); "
        f"Spark jobs launched: {jobs}"
    )
    fitted = pipeline.fit(frame)
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        dag = build_dag(fitted, frame.schema)
        timings.append(time.perf_counter() - begin)
    parameters = sum(len(transform.parameters) for transform in dag.transforms)
    print(
        f"column DAG with {parameters} parameters, fitted 30-stage pipeline: "
        f"median {statistics.median(timings) * 1000:.0f} ms"
    )


def demo_frame(spark, rows: int):
    """The benchmark's cached DataFrame: three numbers, a category, a binary label."""
    from pyspark.sql import functions as F

    regions = F.array(*[F.lit(region) for region in ("north", "south", "east", "west")])
    frame = (
        spark.range(rows)
        .select(
            (F.rand(1) * 100).alias("x1"),
            F.randn(2).alias("x2"),
            (F.col("id") % 7).cast("int").alias("x3"),
            F.element_at(regions, (F.col("id") % 4 + 1).cast("int")).alias("region"),
        )
        .withColumn("label", (F.col("x1") / 100 + F.col("x2") * 0.3 + F.rand(3) * 0.5 > 0.8).cast("double"))
        .cache()
    )
    frame.count()
    return frame


def demo_stages(iterations: int = 10, tolerance: float = 1e-6) -> list[object]:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    return [
        StringIndexer(inputCol="region", outputCol="region_index"),
        OneHotEncoder(inputCol="region_index", outputCol="region_vector"),
        VectorAssembler(inputCols=["x1", "x2", "x3", "region_vector"], outputCol="raw"),
        StandardScaler(inputCol="raw", outputCol="features"),
        LogisticRegression(maxIter=iterations, tol=tolerance),
    ]


def automatic_figures(spark, rows: int, iterations: int, repeats: int) -> None:
    """Plain fit vs the same fit under autolog() vs a TrackedPipeline's: alternating, medians, ratios."""
    from pyspark.ml import Pipeline

    import mltrack_core as mt
    import mltrack_spark
    from mltrack_spark import TrackedPipeline, describe_dataframe
    from mltrack_spark.fits import SAMPLED_ROWS

    frame = demo_frame(spark, rows)
    with tempfile.TemporaryDirectory() as folder:
        tracker = mt.connect(f"sqlite:///{Path(folder) / 'bench.db'}", artifacts=Path(folder) / "artifacts")

        def plain() -> None:
            Pipeline(stages=demo_stages(iterations, 0.0)).fit(frame)

        def automatic() -> None:
            mltrack_spark.autolog(tracker=tracker)
            try:
                Pipeline(stages=demo_stages(iterations, 0.0)).fit(frame)
                tracker.flush()
            finally:
                mltrack_spark.autolog(disable=True)

        def tracked_pipeline() -> None:
            TrackedPipeline(stages=demo_stages(iterations, 0.0), tracker=tracker).fit(frame)
            tracker.flush()

        kinds = {"plain": plain, "autolog": automatic, "TrackedPipeline": tracked_pipeline}
        timings: dict[str, list[float]] = {kind: [] for kind in kinds}
        plain()  # warm-up (JIT, caches) of the fit and of the tracked path
        automatic()
        for _ in range(repeats):
            for kind, fit in kinds.items():
                begin = time.perf_counter()
                fit()
                timings[kind].append(time.perf_counter() - begin)
        models = tracker.count("model")
        tracker.close()
    described = []
    for _ in range(repeats):
        begin = time.perf_counter()
        describe_dataframe(frame, sample_rows=SAMPLED_ROWS)
        described.append(time.perf_counter() - begin)
    frame.unpersist()
    assert models == 1 + 2 * repeats  # the benchmark measures what it claims to: every tracked fit recorded
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    print(
        f"automatic path, pipeline fit, {rows} rows x 5 columns, LogisticRegression maxIter={iterations} tol=0 "
        f"(medians of {repeats}, alternating):"
    )
    for kind, median in medians.items():
        ratio = "" if kind == "plain" else f" -> ratio {median / medians['plain']:.3f} (aim <= 1.05)"
        spread = ", ".join(f"{value:.2f}" for value in timings[kind])
        print(f"  {kind:<16} {median:6.2f} s [{spread}]{ratio}")
    print(
        f"  describing the DataFrame as a recorded fit does (count and fingerprint of every row, statistics of "
        f"the first {SAMPLED_ROWS:,} rows), alone: median {statistics.median(described):.2f} s; it runs beside the fit"
    )


def fit_figures(spark, rows: int, repeats: int) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    import mltrack_core as mt
    from mltrack_spark import TrackedPipeline, describe_dataframe

    regions = F.array(*[F.lit(region) for region in ("north", "south", "east", "west")])
    frame = (
        spark.range(rows)
        .select(
            (F.rand(1) * 100).alias("x1"),
            F.randn(2).alias("x2"),
            (F.col("id") % 7).cast("int").alias("x3"),
            F.element_at(regions, (F.col("id") % 4 + 1).cast("int")).alias("region"),
        )
        .withColumn("label", (F.col("x1") / 100 + F.col("x2") * 0.3 + F.rand(3) * 0.5 > 0.8).cast("double"))
        .cache()
    )
    frame.count()

    def stages() -> list[object]:
        return [
            StringIndexer(inputCol="region", outputCol="region_index"),
            OneHotEncoder(inputCol="region_index", outputCol="region_vector"),
            VectorAssembler(inputCols=["x1", "x2", "x3", "region_vector"], outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            LogisticRegression(maxIter=10),
        ]

    with tempfile.TemporaryDirectory() as folder:
        tracker = mt.connect(f"sqlite:///{Path(folder) / 'bench.db'}", artifacts=Path(folder) / "artifacts")
        Pipeline(stages=stages()).fit(frame)  # warm-up of both code paths
        TrackedPipeline(stages=stages(), tracker=tracker).fit(frame)
        plain, tracked = [], []
        for _ in range(repeats):
            begin = time.perf_counter()
            Pipeline(stages=stages()).fit(frame)
            plain.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            TrackedPipeline(stages=stages(), tracker=tracker).fit(frame)
            tracked.append(time.perf_counter() - begin)
        describe = []
        for _ in range(repeats):
            begin = time.perf_counter()
            describe_dataframe(frame)
            describe.append(time.perf_counter() - begin)
        tracker.close()
    plain_median, tracked_median = statistics.median(plain), statistics.median(tracked)
    print(
        f"pipeline fit, {rows} rows x 5 columns, 5 stages: plain {plain_median:.2f} s, tracked {tracked_median:.2f} s "
        f"(medians of {repeats}, alternating) -> ratio {tracked_median / plain_median:.2f}, "
        f"added {tracked_median - plain_median:.2f} s"
    )
    described = statistics.median(describe)
    print(f"  describing the DataFrame alone (statistics, histograms, fingerprint): median {described:.2f} s")
    print("  (a tracked fit describes its DataFrame in a second thread, beside the fit's own jobs)")


if __name__ == "__main__":
    main()
