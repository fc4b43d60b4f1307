"""The PostgreSQL store at scale: 10M entities and 100M metric points, and the README's queries there. Prints figures.

The store is filled in bulk inside PostgreSQL. One dataset, one model with its evaluation and one ended
training run with 10,000 points are written through mltrack, so every row is one mltrack wrote. Their rows
(entities, links, labels, scores, points, run summaries) are then copied by ``INSERT ... SELECT`` over
``generate_series`` into the store's own tables, with the store's indexes in place, ids and references
renumbered and every evaluation given its own score. The store's keys and indexes are dropped for the copy and
then rebuilt from PostgreSQL's own definitions of them (several times faster than updating them row by row).
The default shape:

- 5,000 datasets;
- about 5M models, each with one evaluation: 1M of them on one crowded dataset, about 800 on each other one;
- 10,000 ended training runs of 10,000 points each.

Then it measures the queries of ``server_bench.py``, embedded and over REST (``mltrack server``), as the median of
20 calls after a warm-up: the leaderboard (top 10) of a dataset, of the crowded one (top 10 and ranks
1,001-1,010), the lineage of an evaluation, 50 models trained on a dataset, a count of every evaluation. It also
measures reading one run's 10,000 points.

Run: ``.ci/postgresql.sh run --durable -- python benchmarks/scale_bench.py [--entities N] [--points N]``, or
give ``--postgresql URI``. ``--quick`` means 100,000 entities and 1,000,000 points. The default size needs about
45 GB of disk and about a quarter of an hour on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from server_bench import Filled, median_ms, postgresql_schema, print_table, query_latencies, running_server

import mltrack_core as mt
from mltrack_core.schema import Dataset
from mltrack_core.store import record_of

POINTS_PER_RUN = 10_000
ENTITIES_PER_DATASET = 2_000
SEED_SCORE = 0.123456789
"""The seed evaluation's score: its text in the seed's rows is replaced by each copy's own score."""
SEED_FINGERPRINT = "sha256:" + "f" * 64
"""No copy has it: copy i has i in hexadecimal."""
CHUNK_ROWS = 1_000_000
"""About as many rows per INSERT (one transaction each): progress is printed after each."""
TABLES_BY_ID = (
    ("entities", "id"),
    ("links", "source"),
    ("labels", "entity_id"),
    ("scores", "entity_id"),
    ("points", "run_id"),
    ("run_metrics", "run_id"),
    ("ranking", "evaluation_id"),
)
"""The store's tables and the column naming the entity a row belongs to."""


def say(message: str) -> None:
    print(f"scale_bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Shape:
    """How many entities of each kind the store gets."""

    datasets: int
    models: int
    runs: int
    crowded: int

    @classmethod
    def of(cls, entities: int, points: int) -> Shape:
        runs = max(1, points // POINTS_PER_RUN)
        datasets = max(2, entities // ENTITIES_PER_DATASET)
        models = max(2, (entities - datasets - runs) // 2)
        return cls(datasets, models, runs, min(1_000_000, models // 2))

    def dataset_of_copy(self) -> str:
        """The number of the dataset of model, evaluation or run number ``i``: the first ``crowded`` on dataset 0."""
        return f"CASE WHEN i < {self.crowded} THEN 0 ELSE 1 + mod(i, {self.datasets - 1}) END"

    @property
    def entities(self) -> int:
        return self.datasets + 2 * self.models + self.runs


@dataclass(frozen=True)
class Seeds:
    """The ids of what was written through mltrack, to be copied."""

    dataset: str
    model: str
    evaluation: str
    run: str


def write_seeds(uri: str) -> Seeds:
    with mt.connect(uri) as tracker:
        dataset = Dataset(
            name="scale-dataset", location="s3://data/scale.parquet", target="y", fingerprint=SEED_FINGERPRINT
        )
        tracker.store.put([record_of(dataset)])
        run = tracker.track_training(name="scale-fit", trained_on=dataset.id)
        for step in range(POINTS_PER_RUN):
            run.log("loss", 1.0 / (step + 1), step=step)
        model = tracker.track_model(name="scale-model", trained_on=dataset.id, learning_algorithm="LogisticRegression")
        run.finish(model=model)
        evaluation = tracker.track_evaluation(
            {"accuracy": SEED_SCORE}, computed_by=model, on_dataset=dataset.id, procedure="5-fold"
        )
        tracker.flush()
        return Seeds(dataset.id, model.id, evaluation.id, run.id)


def fingerprint_of(number: str) -> str:
    """The fingerprint of dataset ``number`` (an SQL expression), as the seed's is spelled."""
    return f"'sha256:' || lpad(to_hex({number}), 64, '0')"


def copy_rows(
    connection: psycopg.Connection,
    table: str,
    key: str,
    seed: str,
    start: int,
    stop: int,
    renames: dict[str, str],
    data_of_copy: str,
) -> int:
    """Copy the rows of ``table`` whose ``key`` is ``seed`` once for each ``i`` in ``[start, stop)``.

    In every text column each key of ``renames`` is replaced by its SQL expression of ``i``; ``created`` becomes
    ``created + i`` (a distinct creation time per copy); a score's ``value`` becomes the copy's own score; the
    ranking's ``data`` (a digest) becomes ``data_of_copy``.
    """
    columns = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s AND is_identity = 'NO' ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    expressions = []
    for name, data_type in columns:
        expression: sql.Composable = sql.Identifier(name)
        if table == "ranking" and name == "data":
            expression = sql.SQL(data_of_copy)
        elif table in ("scores", "ranking") and name == "value":
            expression = sql.SQL(_score_of_copy())
        elif data_type == "text":
            for old, new in renames.items():
                expression = sql.SQL("replace({}, {}, {})").format(expression, sql.Literal(old), sql.SQL(new))
        elif name == "created":
            expression = sql.SQL("{} + i").format(expression)
        expressions.append(expression)
    statement = sql.SQL("INSERT INTO {table} ({columns}) SELECT {expressions} FROM {table} AS t ").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
        expressions=sql.SQL(", ").join(expressions),
    )
    statement += sql.SQL("CROSS JOIN generate_series(%s::bigint, %s::bigint) AS i WHERE t.{} = %s").format(
        sql.Identifier(key)
    )
    with connection.transaction():
        return connection.execute(statement, (start, stop - 1, seed)).rowcount


def _score_of_copy() -> str:
    """A score in [0, 1) that differs from copy to copy, the same in the scores table and in the document."""
    return "mod(i * 7919, 1000003)::double precision / 1000003"


def copy_kind(
    connection: psycopg.Connection,
    seeds: list[tuple[str, str, str]],
    copies: int,
    renames: dict[str, str],
    data_of_copy: str,
    label: str,
) -> None:
    """The rows of the seeds, (table, key column, seed) triples, copied ``copies`` times, a million rows at a time."""
    began, written = time.perf_counter(), 0
    for table, key, seed in seeds:
        per_copy = connection.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(sql.Identifier(table), sql.Identifier(key)),
            (seed,),
        ).fetchone()[0]
        if not per_copy:
            continue
        step = max(1, CHUNK_ROWS // per_copy)
        for start in range(0, copies, step):
            stop = min(copies, start + step)
            written += copy_rows(connection, table, key, seed, start, stop, renames, data_of_copy)
            elapsed = time.perf_counter() - began
            say(f"  {label}: {table} up to copy {stop:,}; {written:,} rows in {elapsed:,.0f} s")
    say(f"{label}: {copies:,} copies, {written:,} rows in {time.perf_counter() - began:,.0f} s")


def numbered(name: str) -> dict[str, str]:
    """Renames that give each copy a name of its own (a million entities of one name is another benchmark)."""
    return {name: f"'{name}-' || i"}


def drop_indexes(connection: psycopg.Connection) -> list[str]:
    """Drop the store's keys and indexes (copying into bare tables is several times faster); how to rebuild them.

    They are rebuilt exactly as the store made them, from PostgreSQL's own definitions.
    """
    constraints = connection.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = current_schema()::regnamespace AND contype IN ('p', 'u')"
    ).fetchall()
    indexes = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace)"
    ).fetchall()
    for name, _ in indexes:
        connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    for table, name, _ in constraints:
        connection.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
        )
    return [
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}' for table, name, definition in constraints
    ] + [definition for _, definition in indexes]


def rows_of(seed: str) -> list[tuple[str, str, str]]:
    """(table, key column, seed): the rows of entity ``seed`` in every table."""
    return [(table, key, seed) for table, key in TABLES_BY_ID]


def fill(uri: str, shape: Shape) -> float:
    """Write the seeds, copy them into ``shape``, drop the seeds; the seconds it took."""
    began = time.perf_counter()
    seeds = write_seeds(uri)
    number = shape.dataset_of_copy()
    dataset_of_copy = f"'dataset-' || ({number})"
    data_of_copy = f"md5('fingerprint:' || {fingerprint_of(number)})"
    score_text = f"({_score_of_copy()})::text"
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '1GB'")
        rebuild = drop_indexes(connection)
        copy_kind(
            connection,
            rows_of(seeds.dataset),
            shape.datasets,
            {seeds.dataset: "'dataset-' || i", SEED_FINGERPRINT: fingerprint_of("i"), **numbered("scale-dataset")},
            f"md5('fingerprint:' || {fingerprint_of('i')})",
            "datasets",
        )
        copy_kind(
            connection,
            rows_of(seeds.model),
            shape.models,
            {seeds.model: "'model-' || i", seeds.dataset: dataset_of_copy, **numbered("scale-model")},
            data_of_copy,
            "models",
        )
        copy_kind(
            connection,
            rows_of(seeds.evaluation),
            shape.models,
            {
                seeds.evaluation: "'evaluation-' || i",
                seeds.model: "'model-' || i",
                seeds.dataset: dataset_of_copy,
                repr(SEED_SCORE): score_text,
            },
            data_of_copy,
            "evaluations",
        )
        copy_kind(
            connection,
            rows_of(seeds.run),
            shape.runs,
            {
                seeds.run: "'run-' || i",
                seeds.model: "'model-' || i",
                seeds.dataset: dataset_of_copy,
                **numbered("scale-fit"),
            },
            data_of_copy,
            "runs",
        )
        for table, key in TABLES_BY_ID:
            connection.execute(
                sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(sql.Identifier(table), sql.Identifier(key)),
                ([seeds.dataset, seeds.model, seeds.evaluation, seeds.run],),
            )
        began_indexing = time.perf_counter()
        for statement in rebuild:
            say(f"  {statement[:100]}")
            connection.execute(statement)
        say(f"indexes rebuilt in {time.perf_counter() - began_indexing:,.0f} s")
        say("counting the ranking")  # what each write adds to ranking_counts, for all the copies at once
        metric, procedure = connection.execute("SELECT metric, procedure FROM ranking_counts").fetchone()
        connection.execute("DELETE FROM ranking_counts")
        connection.execute(
            "INSERT INTO ranking_counts (data, metric_key, metric, procedure_key, procedure, dataset_id, ranked, "
            "direction, count) SELECT data, metric_key, %s, procedure_key, %s, dataset_id, value IS NOT NULL, "
            "coalesce(stated::int, -1), count(*) FROM ranking "
            "GROUP BY data, metric_key, procedure_key, dataset_id, value IS NOT NULL, coalesce(stated::int, -1)",
            (metric, procedure),
        )
        say("analyzing the tables")
        connection.execute("ANALYZE")
    return time.perf_counter() - began


def table_sizes(uri: str) -> list[tuple]:
    with psycopg.connect(uri) as connection:
        rows = []
        for table, _ in TABLES_BY_ID:
            count, size = connection.execute(
                sql.SQL("SELECT (SELECT count(*) FROM {0}), pg_total_relation_size({1})").format(
                    sql.Identifier(table), sql.Literal(table)
                )
            ).fetchone()
            rows.append((table, f"{count:,}", f"{size / 2**30:.2f} GiB"))
    return rows


def latencies(uri: str, shape: Shape) -> dict[str, float]:
    datasets = [f"dataset-{number}" for number in range(shape.datasets)]
    filled = Filled(datasets, "evaluation-0", shape.models, 0.0, shape.crowded)
    found = query_latencies(uri, filled)
    with mt.connect(uri) as tracker:
        found[f"the {POINTS_PER_RUN:,} points of a run"] = median_ms(lambda: tracker.store.points("run-0"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 entities and 1,000,000 points")
    parser.add_argument("--entities", type=int, help="entities in the store (default 10,000,000)")
    parser.add_argument("--points", type=int, help="metric points in the store (default 100,000,000)")
    parser.add_argument("--postgresql", default=os.environ.get("MLTRACK_TEST_POSTGRESQL_URI"), metavar="URI")
    options = parser.parse_args()
    if not options.postgresql:
        parser.error("give --postgresql URI or set MLTRACK_TEST_POSTGRESQL_URI (.ci/postgresql.sh run does)")
    entities = options.entities or (100_000 if options.quick else 10_000_000)
    points = options.points or (1_000_000 if options.quick else 100_000_000)
    shape = Shape.of(entities, points)
    say(f"{shape.entities:,} entities ({shape.datasets:,} datasets, {shape.models:,} models and as many")
    say(f"  evaluations, {shape.crowded:,} on one dataset; {shape.runs:,} runs) and {shape.runs * POINTS_PER_RUN:,}")
    say("  points")
    with postgresql_schema(options.postgresql) as uri, tempfile.TemporaryDirectory() as folder:
        seconds = fill(uri, shape)
        print(f"\nfilled in {seconds / 60:.1f} minutes")
        print_table("what the store holds", ("table", "rows", "size with indexes"), table_sizes(uri))
        with mt.connect(uri) as tracker:
            board = tracker.leaderboard("dataset-0", "accuracy", limit=1)
        print(f"the crowded dataset's leaderboard ranks {board.total:,} evaluations")
        embedded = latencies(uri, shape)
        with running_server(uri, Path(folder) / "server.log") as server:
            served = latencies(server.url, shape)
        print_table(
            f"queries at {shape.entities:,} entities and {shape.runs * POINTS_PER_RUN:,} points, median ms",
            ("query", "embedded", "over REST"),
            [(name, embedded[name], served[name]) for name in embedded],
        )


if __name__ == "__main__":
    main()
