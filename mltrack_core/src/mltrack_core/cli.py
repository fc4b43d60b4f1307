"""The ``mltrack`` command line.

Human-readable tables by default, ``--json`` for machines (standard JSON:
NaN and infinities are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``);
on bad input a one-line message on stderr and exit status 1 (2 for wrong
usage). Commands that only read open the store read-only: they never create,
migrate or convert a store.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.filesize import decimal as file_size
from rich.table import Table
from rich.text import Text

from mltrack_core._dates import utc_text
from mltrack_core.errors import MltrackError, NotFoundError
from mltrack_core.schema import ALL_INPUTS, KINDS, MAX_COUNT, Entity, Evaluation, TrainingRun, dumps
from mltrack_core.tracker import Tracker, connect

__all__ = ["main"]

_KIND_ALIASES = {
    **{kind: kind for kind in KINDS},
    "datasets": "dataset",
    "models": "model",
    "transforms": "transform",
    "runs": "run",
    "training-runs": "run",
    "predictions": "prediction",
    "evaluations": "evaluation",
}


LAZY_COMMANDS: dict[str, str] = {
    "import": "mltrack_core.consumers_cli:import_command",
    "notify": "mltrack_core.consumers_cli:notify",
    "regress": "mltrack_core.consumers_cli:regress",
    "run": "mltrack_core.run:run_command",
    "server": "mltrack_core.server.cli:server",
    "sync": "mltrack_core.server.cli:sync",
    "ui": "mltrack_core.server.cli:ui",
}
"""Commands defined in other modules, imported only when used: name -> "module:attribute"."""


class _Group(click.Group):
    """Loads lazy commands; turns mltrack's errors into a one-line message and exit status 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Arguments that were not valid UTF-8 reach Python as lone surrogates; echoing one must not crash.
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="backslashreplace")
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            import importlib

            module, _, attribute = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MltrackError as exc:
            raise click.ClickException(_one_line(str(exc))) from exc
        except OSError as exc:  # a file the user named cannot be read or written
            if exc.errno == errno.EPIPE:
                raise  # click ends quietly when the reader of stdout went away
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(_one_line(f"{where}{exc.strerror or exc}")) from exc


class PathArgument(click.Path):
    """:class:`click.Path` that refuses a NUL character with a usage error (the operating system cannot take one)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if "\x00" in str(value):
            self.fail(f"{value!r} holds a NUL character, which no file name can", param, ctx)
        return super().convert(value, param, ctx)


class _State:
    """The store of the command line, opened on first use: read-only unless the command writes."""

    def __init__(self, uri: str | None) -> None:
        self.uri = uri
        self._tracker: Tracker | None = None

    @property
    def tracker(self) -> Tracker:
        """The store opened for writing (created when missing)."""
        return self._open(read_only=False)

    @property
    def reader(self) -> Tracker:
        """The store opened for reading only: nothing is created, migrated or converted."""
        return self._open(read_only=True)

    def _open(self, *, read_only: bool) -> Tracker:
        if self._tracker is None:
            self._tracker = connect(self.uri, read_only=read_only)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


_UNSAFE_ON_A_TERMINAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters but newline and tab, and the bidirectional overrides: stored text must not drive the terminal."""
LONGEST_VALUE = 200
"""Characters of a stored text value shown in tables; longer values are cut and their size is shown."""
LONGEST_CELL = 5_000
"""Characters of one table cell; ``--json`` prints everything."""


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so that it prints as one line."""
    return _UNSAFE_ON_A_TERMINAL.sub(_escaped, text.replace("\n", "\\n").replace("\t", "\\t"))


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _cell(text: str, limit: int = LONGEST_CELL) -> Text:
    """A table cell of stored text: no console markup, no terminal control, at most ``limit`` characters."""
    return Text(_UNSAFE_ON_A_TERMINAL.sub(_escaped, _cut(text, limit)))


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({file_size(len(text.encode('utf-8', 'surrogatepass')))})"


def _abridged(value: Any) -> Any:
    """``value`` with every long string in it cut to :data:`LONGEST_VALUE` characters and its size."""
    if isinstance(value, str):
        return _cut(value, LONGEST_VALUE)
    if isinstance(value, dict):
        return {key: _abridged(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_abridged(item) for item in value]
    return value


def _console() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def _emit_json(document: Any) -> None:
    click.echo(dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def _when(milliseconds: int | None) -> str:
    return "" if milliseconds is None else utc_text(milliseconds)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _summary(entity: Entity) -> str:
    """One line saying what matters most about an entity, by kind."""
    parts: list[str] = []
    if entity.KIND == "dataset":
        parts += [f"{entity.row_count} rows" if entity.row_count is not None else "", entity.location or ""]
        if entity.derived_from:
            parts.append(f"from {', '.join(entity.derived_from)}")
    elif entity.KIND == "model":
        parts += [entity.learning_algorithm, f"trained on {entity.trained_on}"]
    elif entity.KIND == "transform":
        parts += [entity.operator or "", f"{len(entity.output)} output columns" if entity.output else ""]
    elif isinstance(entity, TrainingRun):
        parts += [entity.state.value, f"model {entity.for_model}" if entity.for_model else ""]
    elif entity.KIND == "prediction":
        parts += [f"by {entity.computed_by}", f"on {entity.on_dataset}"]
    elif isinstance(entity, Evaluation):
        parts += [", ".join(f"{s.metric}={_number(s.value)}" for s in entity.scores if s.is_scalar)]
        parts += [f"by {entity.computed_by}", f"on {entity.on_dataset}"]
    return "; ".join(part for part in parts if part)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--uri",
    envvar="MLTRACK_URI",
    metavar="URI",
    help="Store to use (memory://, sqlite:///path.db, ...). Default: $MLTRACK_URI, else ~/.mltrack/store.db.",
)
@click.version_option(package_name="mltrack-core", prog_name="mltrack")
@click.pass_context
def main(ctx: click.Context, uri: str | None) -> None:
    """Track and query the metadata and provenance of machine-learning experiments."""
    state = _State(uri)
    ctx.obj = state
    ctx.call_on_close(state.close)


@main.command("ls")
@click.argument("kind", required=False, type=click.Choice(sorted(_KIND_ALIASES)), metavar="[KIND]")
@click.option("--experiment", help="Only entities of this experiment.")
@click.option("--name", help="Only entities with this name.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only entities with this tag (repeatable).")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, MAX_COUNT), help="At most this many rows."
)
@click.option("--offset", default=0, type=click.IntRange(0, MAX_COUNT), help="Skip this many rows (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_entities(
    state: _State,
    kind: str | None,
    experiment: str | None,
    name: str | None,
    tags: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List stored entities, newest first. KIND: dataset, model, transform, run, prediction or evaluation."""
    filters: dict[str, Any] = {"limit": limit, "offset": offset}
    if experiment:
        filters["experiment"] = experiment
    if name:
        filters["name"] = name
    if tags:
        filters["tags"] = dict(_key_value(tag) for tag in tags)
    kind = _KIND_ALIASES[kind] if kind else None
    tracker = state.reader
    entities = tracker.find(kind, **filters)
    total = tracker.count(kind, **{k: v for k, v in filters.items() if k not in ("limit", "offset")})
    if as_json:
        _emit_json({"total": total, "offset": offset, "entities": [entity.to_json() for entity in entities]})
        return
    title = _cell(f"{len(entities)} of {total} {kind or 'entities'} in {tracker.uri}")
    table = Table(title=title, title_justify="left")
    for column in ("id", "kind", "name", "created", "summary"):
        table.add_column(column, overflow="fold")
    for entity in entities:
        cells = (entity.id, entity.KIND, entity.name or "", _when(entity.creation_time), _summary(entity))
        table.add_row(*(_cell(cell, LONGEST_VALUE) for cell in cells))
    _console().print(table)


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--tag")
    return key, value


@main.command("show")
@click.argument("entity_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the entity's JSON document.")
@click.pass_obj
def show(state: _State, entity_id: str, as_json: bool) -> None:
    """Show one entity with all its fields (long values cut, with their size; --json shows them whole)."""
    entity = state.reader.get(entity_id)
    document = entity.to_json()
    if as_json:
        _emit_json(document)
        return
    if isinstance(entity, TrainingRun) and entity.scores_over_time:
        document["scores_over_time"] = _last_scores(entity)
    table = Table(title=_cell(f"{entity.KIND} {entity.id}"), show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in document.items():
        if key in ("id", "kind"):
            continue
        if key in ("creation_time", "start_time", "end_time"):
            text = _when(value)
        elif isinstance(value, str):
            text = _cut(value, LONGEST_VALUE)
        else:
            text = dumps(_abridged(value), ensure_ascii=False)
        if key == "column_lineage" and ALL_INPUTS in value.values():
            text += f'  ("*": all {len(document.get("input", ()))} input columns)'
        table.add_row(key, _cell(text))
    _console().print(table)


def _last_scores(run: TrainingRun) -> str:
    last: dict[str, Any] = {}
    for point in run.scores_over_time:
        last[point.metric] = point
    shown = ", ".join(
        f"{metric}={_number(point.value)}" + (f" (epoch {point.epoch})" if point.epoch is not None else "")
        for metric, point in last.items()
    )
    return f"{len(run.scores_over_time)} points; last: {shown}"


@main.command("lineage")
@click.argument("entity_id", metavar="ID")
@click.option("--downstream", is_flag=True, help="What was derived from ID (default: what ID was derived from).")
@click.option("--depth", type=click.IntRange(min=0), help="Follow at most this many steps.")
@click.option("--json", "as_json", is_flag=True, help="Print nodes and edges as JSON.")
@click.pass_obj
def lineage(state: _State, entity_id: str, downstream: bool, depth: int | None, as_json: bool) -> None:
    """Show the lineage of an entity: its inputs (upstream) or what used it (--downstream)."""
    result = state.reader.lineage(entity_id, "downstream" if downstream else "upstream", depth)
    if as_json:
        _emit_json(result.to_json())
        return
    for line in result.tree_lines():
        click.echo(_one_line(line))


@main.command("diff")
@click.argument("model_a", metavar="MODEL_A")
@click.argument("model_b", metavar="MODEL_B")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.pass_obj
def diff(state: _State, model_a: str, model_b: str, as_json: bool) -> None:
    """Show only what differs between two models: hyperparameters, transforms, training data, environment."""
    result = state.reader.diff(model_a, model_b)
    if as_json:
        _emit_json(result.to_json())
        return
    if result.identical:
        click.echo(_one_line(f"{model_a} and {model_b} do not differ"))
        return
    table = Table(title=_cell(f"{model_a} vs {model_b}"), title_justify="left")
    for column in ("section", "key", "a", "b"):
        table.add_column(column, overflow="fold")
    for section, differences in result.sections().items():
        for key, (value_a, value_b) in differences.items():
            table.add_row(section, _cell(key, LONGEST_VALUE), _shown(value_a), _shown(value_b))
    _console().print(table)


def _shown(value: Any) -> Text:
    if value is None:
        return Text("-")
    return _cell(value if isinstance(value, str) else dumps(_abridged(value)), LONGEST_VALUE)


@main.command("leaderboard")
@click.option(
    "--dataset", required=True, metavar="ID", help="The dataset (any dataset with the same fingerprint counts)."
)
@click.option("--metric", required=True, help="The metric to rank by.")
@click.option("--procedure", help="Only evaluations with this procedure (default: the most common one).")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, MAX_COUNT), help="At most this many rows."
)
@click.option(
    "--offset", default=0, type=click.IntRange(0, MAX_COUNT), help="Skip this many ranked rows (the next page)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def leaderboard(
    state: _State, dataset: str, metric: str, procedure: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """Rank the evaluations of a metric on a dataset, best first (only mutually comparable ones).

    Exit status 1 when no evaluation of the metric was recorded on the data
    (the message names the metrics that were).
    """
    board = state.reader.leaderboard(dataset, metric, procedure=procedure, limit=limit, offset=offset)
    if not board.total and not board.excluded:
        raise NotFoundError(
            f"no evaluation of metric {metric!r} on dataset {dataset!r} "
            f"(metrics recorded there: {', '.join(map(repr, board.metrics)) or 'none'})"
        )
    if as_json:
        _emit_json(board.to_json())
        return
    _console().print(_leaderboard_table(board))


_EXCLUSIONS_SHOWN = 10


def _leaderboard_table(board: Any) -> Table:
    direction = "higher is better" if board.greater_is_better else "lower is better"
    title = f"{board.metric} on {board.dataset.name} ({direction}; procedure {board.procedure or 'unspecified'})"
    if len(board.entries) < board.total:
        shown = f"{board.offset + 1}-{board.offset + len(board.entries)}" if board.entries else "none"
        title += f"\nranks {shown} of {board.total}"
    table = Table(title=_cell(title), title_justify="left", caption=_exclusions(board), caption_justify="left")
    for column in ("rank", board.metric, "model", "algorithm", "model id", "evaluation id"):
        table.add_column(_cell(column, LONGEST_VALUE), overflow="fold")
    for entry in board.entries:
        cells = (entry.model.name, entry.model.learning_algorithm, entry.model.id, entry.evaluation.id)
        table.add_row(str(entry.rank), f"{entry.value:.4f}", *(_cell(cell or "", LONGEST_VALUE) for cell in cells))
    return table


def _exclusions(board: Any) -> Text | None:
    """The evaluations left out of a leaderboard, with the reasons (the first few)."""
    if not board.excluded:
        return None
    lines = [f"left out: {board.excluded_total} evaluation(s)"]
    lines += [f"  {id_}: {reason}" for id_, reason in board.excluded[:_EXCLUSIONS_SHOWN]]
    if board.excluded_total > _EXCLUSIONS_SHOWN:
        lines.append(f"  ... (--json lists the first {len(board.excluded)})")
    return _cell("\n".join(_cut(line, LONGEST_VALUE) for line in lines))


@main.command("recommend")
@click.option("--dataset", required=True, metavar="ID", help="The dataset to recommend configurations for.")
@click.option("--metric", required=True, help="The metric to do well on (only evaluations of it count).")
@click.option(
    "--procedure",
    help="Only evaluations with this procedure (default: the task's, else the one most similar datasets' use).",
)
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, MAX_COUNT), help="How many to recommend.")
@click.option(
    "--neighbours",
    type=click.IntRange(1, MAX_COUNT),
    help="How many similar datasets to learn from (default: 5, the tracker's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every piece of evidence) instead of tables.")
@click.pass_obj
def recommend(
    state: _State, dataset: str, metric: str, procedure: str | None, top: int, neighbours: int | None, as_json: bool
) -> None:
    """Recommend algorithms and configurations for a dataset, from how they did on similar datasets.

    Similar datasets are found by their meta-features; each recommendation
    shows the evidence behind it and how confident the ranking is. With no
    history to learn from, the answer says so (exit status 0).
    """
    found = state.reader.recommend(dataset, metric, top, procedure=procedure, neighbours=neighbours)
    if as_json:
        _emit_json(found.to_json())
        return
    console = _console()
    for note in found.notes:
        console.print(_cell(f"note: {note}", LONGEST_VALUE))
    if not found.items:
        return
    console.print(_recommendations_table(found))
    console.print(_neighbours_table(found))


def _recommendations_table(found: Any) -> Table:
    task = found.task
    direction = "higher is better" if found.greater_is_better else "lower is better"
    title = (
        f"recommended for {task.dataset}: {task.metric} ({direction}; procedure {task.procedure or 'unspecified'}); "
        f"confidence {found.confidence}"
    )
    table = Table(title=_cell(title), title_justify="left")
    for column in ("rank", "algorithm", "non-default hyperparameters", "expected", "confidence", "evidence"):
        table.add_column(column, overflow="fold")
    for item in found.items:
        changed = ", ".join(f"{p.name}={dumps(_abridged(p.value))}" for p in item.hyperparameters if p.non_default)
        evidence = "; ".join(
            f"{e.name or e.dataset} (similarity {e.similarity:.2f}): {e.value:.4g}" for e in item.evidence[:3]
        )
        if len(item.evidence) > 3:
            evidence += f"; and {len(item.evidence) - 3} more"
        table.add_row(
            str(item.rank),
            _cell(item.learning_algorithm, LONGEST_VALUE),
            _cell(changed or "(the defaults)", LONGEST_VALUE),
            f"{item.expected:.2f}",
            _cell(f"{item.confidence}: {item.reason}", LONGEST_VALUE),
            _cell(evidence, LONGEST_VALUE),
        )
    return table


def _neighbours_table(found: Any) -> Table:
    table = Table(title="similar datasets learnt from", title_justify="left")
    for column in ("dataset", "name", "similarity", "evaluations"):
        table.add_column(column, overflow="fold")
    for neighbour in found.neighbours:
        table.add_row(
            _cell(neighbour.dataset, LONGEST_VALUE),
            _cell(neighbour.name or "", LONGEST_VALUE),
            f"{neighbour.similarity:.2f}",
            str(neighbour.evaluations),
        )
    return table


EXPORT_FORMATS = ("ml-experiments-schema", "openlineage", "prov")


@main.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(EXPORT_FORMATS),
    default="ml-experiments-schema",
    show_default=True,
    help="ml-experiments-schema: the paper's documents; openlineage: OpenLineage run events; prov: W3C PROV.",
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="openlineage, prov: only these experiments and what they use (repeatable; default: everything).",
)
@click.option(
    "--namespace",
    default="mltrack",
    show_default=True,
    help="openlineage: the namespace of the jobs (named after the experiment, else the run or model).",
)
@click.option(
    "--prov-format",
    "prov_format",
    type=click.Choice(("json", "provn", "xml", "rdf")),
    help="prov: the serialization (default: by TARGET's extension: .json .provn .xml .ttl .trig .nt .rdf; else json).",
)
@click.argument("target", metavar="TARGET", type=PathArgument(allow_dash=True, path_type=str))
@click.pass_obj
def export(
    state: _State,
    export_format: str,
    experiments: tuple[str, ...],
    namespace: str,
    prov_format: str | None,
    target: str,
) -> None:
    """Write the stored entities to TARGET in another tool's format.

    ml-experiments-schema (the default): TARGET is a directory of documents of the paper's published
    schema. openlineage: TARGET is a file (one event per line), - (standard output), or the http(s) URL
    of a lineage server such as Marquez or DataHub (events go to URL/api/v1/lineage;
    OPENLINEAGE_API_KEY is sent if set). prov: TARGET is a file, or - for standard output.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    tracker = state.reader
    if export_format == "ml-experiments-schema":
        if experiments:
            raise click.UsageError("--experiment applies to --format openlineage and prov; the documents are all")
        _export_documents(tracker, Path(target))
        return
    counts = {name: tracker.count(experiment=name) for name in dict.fromkeys(experiments)}
    unknown = [name for name, count in counts.items() if not count]
    if unknown:
        raise NotFoundError(
            f"no stored entity belongs to experiment {unknown[0]!r:.200}; mltrack ls --experiment NAME lists "
            "an experiment's entities"
        )
    total = sum(counts.values()) if experiments else tracker.count()
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("export", total=total)

        def advance() -> None:
            bar.advance(task)

        if export_format == "openlineage":
            from mltrack_core.exporters.openlineage import export_openlineage

            summary = export_openlineage(
                tracker, target, namespace=namespace, experiments=experiments, on_entity=advance
            )
        else:
            from mltrack_core.exporters.prov import export_prov

            summary = export_prov(
                tracker, target, serialization=prov_format, experiments=experiments, on_entity=advance
            )
    if target != "-":
        click.echo(_one_line(summary.describe()))


def _export_documents(tracker: Tracker, directory: Path) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from mltrack_core.exporters.ml_experiments_schema import export as export_documents

    if directory.exists() and not directory.is_dir():
        raise click.BadParameter(f"{directory} is a file; --format ml-experiments-schema writes a directory")
    total = tracker.count()
    directory.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("export", total=total)
        summary = export_documents(tracker, directory, on_document=lambda: bar.advance(task))
    parts = ", ".join(f"{count} {folder}" for folder, count in sorted(summary.written.items()))
    click.echo(_one_line(f"wrote {summary.total} documents to {directory}: {parts or 'nothing to export'}"))


@main.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def info(state: _State, as_json: bool) -> None:
    """Show the store in use, what it holds, and the installed plugins."""
    tracker = state.reader
    counts = {kind: tracker.count(kind) for kind in KINDS}
    plugins = sorted(name for name, _ in tracker.plugins.list_name_plugin())
    schemes = sorted(tracker.plugins.stores)
    if as_json:
        _emit_json({"uri": tracker.uri, "counts": counts, "plugins": plugins, "schemes": schemes})
        return
    click.echo(_one_line(f"store: {tracker.uri}"))
    click.echo("holds: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))
    click.echo("plugins: " + ", ".join(plugins))
    click.echo("store schemes: " + ", ".join(schemes))


@main.command("demo")
@click.option("--live", is_flag=True, help="Serve the dashboard and train a run slowly, to watch its curves grow.")
@click.option(
    "--seconds", default=120.0, show_default=True, type=click.FloatRange(1, 3600), help="How long the live run trains."
)
@click.option("--port", default=8687, show_default=True, type=click.IntRange(0, 65535), help="The dashboard's port.")
@click.option("--open", "open_browser", is_flag=True, help="Open the live run's page in the default web browser.")
@click.pass_obj
def demo(state: _State, live: bool, seconds: float, port: int, open_browser: bool) -> None:
    """Record a small experiment in the store, then print its lineage and leaderboard."""
    from mltrack_core.artifacts import mltrack_home
    from mltrack_core.demo import run_core_demo

    tracker = state.tracker
    folder = mltrack_home() / "demo"
    if live:
        _live_demo(tracker, folder, seconds, port, open_browser)
        return
    click.echo(f"mltrack demo: recording into {tracker.uri}")
    results = [run_core_demo(tracker, folder, _say)]
    results += [
        result for result in tracker.plugins.hook.mltrack_demo(tracker=tracker, folder=folder, say=_say) if result
    ]
    console = _console()
    for result in results:
        console.rule(result.title)
        board = tracker.leaderboard(result.dataset, result.metric, limit=10)
        if board.entries:
            best = board.entries[0].evaluation
            click.echo(f"lineage of the best evaluation ({best.id}):")
            for line in tracker.lineage(best.id).tree_lines():
                click.echo(f"  {line}")
        console.print(_leaderboard_table(board))
    click.echo("explore further: mltrack ls, mltrack show ID, mltrack lineage ID --downstream, mltrack diff A B")
    command = os.environ.get(DEMO_COMMAND_VARIABLE, "mltrack")
    store = "" if state.uri is None else f" --uri {shlex.quote(tracker.uri)}"
    click.echo("see it in your browser:")
    dashboard, live = f"{command} ui --open{store}", f"{command} demo --live --open{store}"
    width = max(len(dashboard), len(live)) + 4
    click.echo(f"  {dashboard:<{width}}the dashboard of this store, at http://127.0.0.1:8687/ui/")
    click.echo(f"  {live:<{width}}a run training live, in the dashboard")


DEMO_COMMAND_VARIABLE = "MLTRACK_DEMO_COMMAND"
"""How the demo's closing lines spell the command (``./dev`` sets it, since its ``mltrack`` is not on PATH)."""


def _live_demo(tracker: Tracker, folder: Path, seconds: float, port: int, open_browser: bool) -> None:
    """Serve the dashboard, train a run slowly while the browser watches it, then serve until Ctrl-C."""
    import webbrowser

    from mltrack_core.demo import run_live_demo
    from mltrack_core.server.cli import start_dashboard

    address, stop = start_dashboard(tracker.uri, port=port)
    click.echo(f"mltrack demo --live: the dashboard of {tracker.uri} is at {address}")

    def show(run_id: str) -> None:
        page = f"{address}runs/{run_id}"
        click.echo(f"  watch it: {page}")
        if open_browser:
            webbrowser.open(page)

    try:
        run_live_demo(tracker, folder, seconds, _say, on_start=show)
        click.echo(f"the dashboard stays at {address} until Ctrl-C")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def _say(message: str) -> None:
    click.echo(f"  - {message}")


if __name__ == "__main__":  # pragma: no cover
    main()
