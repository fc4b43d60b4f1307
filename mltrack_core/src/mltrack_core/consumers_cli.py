"""The ``mltrack import``, ``mltrack regress`` and ``mltrack notify`` commands.

Loaded lazily by :mod:`mltrack_core.cli` (its ``LAZY_COMMANDS``); they use the
store selected by ``mltrack --uri``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from mltrack_core.cli import PathArgument
from mltrack_core.errors import SchemaError
from mltrack_core.schema import dumps

__all__ = ["import_command", "notify", "regress"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[Any], None]]:
    """A progress bar on stderr for multi-item work; ``advance`` is called once per item."""
    if total <= 1:
        yield lambda _item: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _item: bar.advance(task)


def _report_import(summary: Any, as_json: bool) -> None:
    if as_json:
        document = {
            "source": summary.source,
            "written": dict(summary.written),
            "unchanged": summary.unchanged,
            "ids": summary.written_ids,
            "notes": summary.notes,
        }
        click.echo(dumps(document, indent=2, sort_keys=True))
        return
    click.echo(summary.describe())
    for note in summary.notes:
        click.echo(f"  note: {note}")


# ---------------------------------------------------------------- mltrack import


@click.group("import")
def import_command() -> None:
    """Bring experiment metadata made elsewhere into the store (importing twice creates nothing new)."""


@import_command.command("openml")
@click.argument("sources", nargs=-1, required=True, metavar="FILE_OR_ID...")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@click.pass_obj
def import_openml(state: Any, sources: tuple[str, ...], as_json: bool) -> None:
    """Import OpenML datasets, flows, setups, tasks, runs and evaluation listings.

    FILE_OR_ID is an XML document saved from the OpenML API, a folder of them
    (a dataset's description.xml, features.xml and qualities.xml belong in one
    folder), or KIND/ID (run/100, dataset/2, flow/4024, task/1, setup/100) to
    fetch from the live API, which needs the openml package
    (pip install 'mltrack-core[openml]') and the network.
    """
    from mltrack_core.importers.openml import import_openml as run_import
    from mltrack_core.importers.openml import plan_sources

    planned = plan_sources(sources)
    tracker = state.tracker
    with _progress("reading OpenML documents", len(planned)) as advance:
        summary = run_import(tracker, planned, on_source=advance)
    summary.source = ", ".join(sources)
    _report_import(summary, as_json)


@import_command.command("mlflow")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="The MLflow store: an mlruns/ folder, sqlite:///mlflow.db, postgresql://..., http://host:5000 "
    "(default: MLFLOW_TRACKING_URI, else MLflow's default).",
)
@click.option("--experiment", "experiments", multiple=True, metavar="NAME", help="Import only this experiment.")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@click.pass_obj
def import_mlflow(state: Any, tracking_uri: str | None, experiments: tuple[str, ...], as_json: bool) -> None:
    """Import the runs of an MLflow tracking store, with their metric history, datasets, models and evaluations.

    Reads through MLflow's own client (pip install 'mltrack-core[mlflow]').
    Runs still running are skipped (import again once they ended); importing
    twice creates nothing new.
    """
    from mltrack_core.importers.mlflow import import_source, open_mlflow

    source = open_mlflow(tracking_uri, experiments)
    with _progress("importing MLflow runs", len(source.runs)) as advance:
        summary = import_source(state.tracker, source, on_run=advance)
    _report_import(summary, as_json)


@import_command.command("ml-experiments-schema")
@click.argument("directory", type=PathArgument(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@click.pass_obj
def import_ml_experiments_schema(state: Any, directory: Path, as_json: bool) -> None:
    """Import DIRECTORY of documents in the paper's published schema (e.g. written by mltrack export).

    Exports of mltrack are imported losslessly; documents of other tools are
    mapped field by field (their kind is told by their folder: datasets/,
    models/, transforms/, training_runs/, predictions/, evaluations/).
    """
    from mltrack_core.importers.ml_experiments_schema import import_directory

    total = sum(1 for _ in directory.rglob("*.json"))
    with _progress("reading documents", total) as advance:
        summary = import_directory(state.tracker, directory, on_document=advance)
    _report_import(summary, as_json)


# ---------------------------------------------------------------- mltrack regress


@click.command("regress")
@click.option("--metric", required=True, help="The metric checked, e.g. roc_auc.")
@click.option("--value", required=True, type=float, help="Its value for the current code.")
@click.option("--dataset", required=True, metavar="ID", help="The stored (hold-out) dataset it was computed on.")
@click.option("--model", metavar="ID", help="The stored model that computed it (required unless --no-record).")
@click.option(
    "--tolerance", default=0.0, show_default=True, type=click.FloatRange(min=0), help="How much worse still passes."
)
@click.option("--procedure", default="holdout", show_default=True, help="How the value was estimated.")
@click.option(
    "--baseline",
    default="best",
    show_default=True,
    metavar="best|last-passing|EVALUATION_ID",
    help="Compare with the best comparable value, the last passing check, or a pinned evaluation.",
)
@click.option(
    "--higher-is-better/--lower-is-better",
    "greater_is_better",
    default=None,
    help="The metric's direction (default: known from its name: losses and errors are lower-is-better).",
)
@click.option("--no-record", is_flag=True, help="Compare only; do not store the evaluation.")
@click.option(
    "--repository",
    type=PathArgument(exists=True, file_okay=False, path_type=Path),
    help="The git repository whose commit is recorded (default: the working folder).",
)
@click.option("--name", help="Name of the recorded evaluation (default: 'regression check of METRIC').")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def regress(
    state: Any,
    metric: str,
    value: float,
    dataset: str,
    model: str | None,
    tolerance: float,
    procedure: str,
    baseline: str,
    greater_is_better: bool | None,
    no_record: bool,
    repository: Path | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Check a model-quality value against the comparable history; exit status 1 on a regression.

    What the pytest fixture mltrack_regression does, for other CI systems: the
    value is compared with a baseline among the stored evaluations on the same
    data with the same metric and procedure, and recorded tagged with the
    current git commit and the outcome.
    """
    from mltrack_core.regression import check_regression

    result = check_regression(
        state.reader if no_record else state.tracker,
        metric,
        value,
        model=model,
        dataset=dataset,
        tolerance=tolerance,
        procedure=procedure,
        baseline=baseline,
        record=not no_record,
        greater_is_better=greater_is_better,
        repository=repository,
        name=name,
    )
    if as_json:
        click.echo(dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(result.report())
    if result.regressed:
        sys.exit(1)


# ---------------------------------------------------------------- mltrack notify


def parse_since(text: str, now: datetime | None = None) -> int:
    """Milliseconds since 1970 of ``--since``: a duration back from now (30m, 12h, 1d, 2w) or an ISO date/time (UTC).

    A moment before 1970 (or a duration reaching back further) means since 1970.

    Raises:
        SchemaError: ``text`` is neither a duration nor a date.
    """
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(text)
    if match:
        back = float(match.group(1)) * _UNIT_MS[match.group(2)]
        return max(0, int(now.timestamp() * 1000 - back)) if math.isfinite(back) else 0
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SchemaError(
            f"--since {text!r}: expected a duration such as 30m, 12h, 1d or 2w, or a date such as 2025-01-31"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0, int(moment.timestamp() * 1000))  # before 1970: since the beginning


@click.command("notify")
@click.option(
    "--since", default="1d", show_default=True, help="Period start: a duration (30m, 12h, 1d, 2w) or a date (UTC)."
)
@click.option(
    "--to", "recipients", multiple=True, metavar="ADDRESS", help="Send to these addresses instead (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Print the email instead of sending it.")
@click.pass_obj
def notify(state: Any, since: str, recipients: tuple[str, ...], dry_run: bool) -> None:
    """Email a digest of new leaders per leaderboard, regressions and failed training runs.

    The SMTP server and recipients come from MLTRACK_SMTP_HOST, MLTRACK_SMTP_PORT,
    MLTRACK_SMTP_SECURITY (none, starttls, ssl), MLTRACK_SMTP_USERNAME,
    MLTRACK_SMTP_PASSWORD, MLTRACK_NOTIFY_FROM and MLTRACK_NOTIFY_TO, or from
    the settings file $MLTRACK_NOTIFY_CONFIG (default ~/.mltrack/notify.ini,
    sections [smtp] and [digest]). Nothing is sent when nothing happened.
    """
    import dataclasses

    from mltrack_core.notify.digest import build_digest
    from mltrack_core.notify.mailer import send_digest
    from mltrack_core.notify.settings import (
        NotifyConfigurationError,
        NotifySettings,
        checked_addresses,
        config_path,
        load_settings,
    )

    start = parse_since(since)
    recipients = checked_addresses(recipients, "--to")
    settings = load_settings()
    if settings is not None and recipients:
        settings = dataclasses.replace(settings, recipients=recipients)
    if settings is None and not dry_run:
        raise NotifyConfigurationError(
            "no SMTP server is configured: set MLTRACK_SMTP_HOST and MLTRACK_NOTIFY_TO, or write "
            f"{config_path()} (see mltrack notify --help); --dry-run prints the digest without sending"
        )
    digest = build_digest(state.reader, start)
    if dry_run:
        shown = settings or NotifySettings(
            host="-", recipients=recipients or ("(no recipients configured)",), sender="mltrack"
        )
        click.echo(digest.to_message(shown).as_string())
        return
    if digest.empty:
        click.echo(f"nothing to report since {digest.subject.rpartition(' since ')[2]}; no email sent")
        return
    send_digest(digest, settings)  # type: ignore[arg-type]
    click.echo(f"sent {digest.subject!r} to {', '.join(settings.recipients)}")  # type: ignore[union-attr]
