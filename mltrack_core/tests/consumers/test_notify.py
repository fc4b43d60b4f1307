"""Email digests, received by a real SMTP server (aiosmtpd) listening on this machine."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import mltrack_core as mt
from mltrack_core.consumers_cli import parse_since
from mltrack_core.notify import (
    NotifyConfigurationError,
    NotifyError,
    NotifySettings,
    build_digest,
    load_settings,
    send_digest,
    wait_for_notifications,
)
from mltrack_core.regression import check_regression
from mltrack_core.schema import now_ms
from mltrack_core.testing import sample_experiment

HOUR_MS = 3_600_000


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def only_ana(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"ana", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 that accepts the login ana / s3cret."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=only_ana, auth_require_tls=False)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def smtp_environment(smtp_server: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    mailbox, port = smtp_server
    monkeypatch.setenv("MLTRACK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MLTRACK_SMTP_PORT", str(port))
    monkeypatch.setenv("MLTRACK_NOTIFY_TO", "team@example.com, lead@example.com")
    monkeypatch.setenv("MLTRACK_NOTIFY_FROM", "mltrack@example.com")
    monkeypatch.setenv("MLTRACK_NOTIFY_ON", "none")  # automatic digests are tested on their own
    return mailbox


def a_day_of_experiments(tracker: mt.Tracker) -> dict[str, object]:
    """Yesterday's leader, then today: a new leader, a failed regression check and a failed training run."""
    recorded = sample_experiment(tracker)  # accuracy 0.93 and log_loss 0.2 of iris-lr on iris-test
    yesterday = tracker.get(recorded["evaluation"].id)
    old = mt.Evaluation(
        computed_by=recorded["model"].id,
        on_dataset=recorded["test"].id,
        procedure="holdout",
        scores=[mt.Score(metric="accuracy", value=0.95)],
        creation_time=now_ms() - 30 * HOUR_MS,
    )
    tracker.track_evaluation(old)
    forest = tracker.track_model(
        name="iris-forest", learning_algorithm="RandomForestClassifier", trained_on=recorded["train"]
    )
    tracker.track_evaluation({"accuracy": 0.97}, computed_by=forest, on_dataset=recorded["test"], procedure="holdout")
    check_regression(tracker, "f1", 0.9, model=forest, dataset=recorded["test"])
    regression = check_regression(tracker, "f1", 0.8, model=forest, dataset=recorded["test"], tolerance=0.01)
    with pytest.raises(MemoryError):
        train_until_it_fails(tracker, "iris-mlp fit", MemoryError("out of GPU memory"), trained_on=recorded["train"])
    return {**recorded, "forest": forest, "regression": regression, "yesterday": yesterday}


def train_until_it_fails(tracker: mt.Tracker, name: str, error: Exception, **fields: object) -> None:
    with tracker.track_training(name=name, **fields) as run:
        run.log("loss", 0.7)
        raise error


def test_notify_sends_the_digest_of_the_last_day(mltrack, smtp_environment: Mailbox) -> None:
    with mt.connect(mltrack.uri) as tracker:
        recorded = a_day_of_experiments(tracker)
    result = mltrack("notify", "--since", "1d")
    assert result.exit_code == 0, result.output
    assert "sent '[mltrack] 3 new leaders, 1 regression, 1 failed training run since" in result.stdout

    [message] = smtp_environment.messages
    assert smtp_environment.envelopes == [("mltrack@example.com", ["team@example.com", "lead@example.com"])]
    assert message["Subject"].startswith("[mltrack] 3 new leaders, 1 regression, 1 failed training run since ")
    assert message["To"] == "team@example.com, lead@example.com" and message["From"] == "mltrack@example.com"
    body = message.get_content()
    forest = recorded["forest"]
    assert f"* accuracy on iris-test [{recorded['test'].id}] (procedure holdout, higher is better)" in body
    assert f"  leader:   0.97 by model iris-forest [{forest.id}]" in body
    assert f"  previous: 0.95 by model iris-lr [{recorded['model'].id}]" in body  # yesterday's leader
    assert "* f1 on iris-test" in body and "first result on this leaderboard" in body
    regression = recorded["regression"]
    assert (
        f"* f1 of model iris-forest [{forest.id}] on dataset {recorded['test'].id}: 0.8, worse than the baseline 0.9"
        in body
    )
    assert f"as evaluation {regression.evaluation.id}" in body
    assert "* iris-mlp fit [run-" in body and "failed at" in body and ": MemoryError: out of GPU memory" in body
    assert "* log_loss on iris-test" in body and "(procedure holdout, lower is better)" in body
    assert mltrack.uri in body


def test_nothing_happened_sends_nothing(mltrack, sqlite_tracker, smtp_environment: Mailbox) -> None:
    result = mltrack("notify", "--since", "2h")
    assert result.exit_code == 0 and result.stdout.startswith("nothing to report since ")
    assert smtp_environment.messages == []


def test_a_dry_run_prints_the_email(mltrack, smtp_environment: Mailbox) -> None:
    with mt.connect(mltrack.uri) as tracker:
        a_day_of_experiments(tracker)
    result = mltrack("notify", "--dry-run", "--to", "me@example.com")
    assert result.exit_code == 0
    assert "To: me@example.com" in result.stdout and "Failed training runs (1)" in result.stdout
    assert smtp_environment.messages == []


def test_a_failed_run_sends_a_digest_by_itself(
    sqlite_tracker: mt.Tracker, smtp_environment: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_NOTIFY_ON", "run-failed")
    with sqlite_tracker.track_training(name="quiet") as run:
        run.log("loss", 0.1)
    assert wait_for_notifications(timeout=30) and smtp_environment.messages == []  # finished runs do not send
    with pytest.raises(ZeroDivisionError):
        train_until_it_fails(sqlite_tracker, "doomed", ZeroDivisionError("division by zero"))
    assert wait_for_notifications(timeout=30)
    [message] = smtp_environment.messages
    assert message["Subject"].startswith("[mltrack] 0 new leaders, 0 regressions, 1 failed training run since ")
    assert "doomed" in message.get_content() and "ZeroDivisionError: division by zero" in message.get_content()


def test_a_failed_regression_check_sends_a_digest_by_itself(
    sqlite_tracker: mt.Tracker, smtp_environment: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_NOTIFY_ON", "regression")
    holdout = sqlite_tracker.track_dataset(name="holdout", fingerprint="sha256:h", target="y")
    model = sqlite_tracker.track_model(name="m", learning_algorithm="lr", trained_on=holdout)
    check_regression(sqlite_tracker, "accuracy", 0.9, model=model, dataset=holdout)
    check_regression(sqlite_tracker, "accuracy", 0.91, model=model, dataset=holdout)
    assert wait_for_notifications(timeout=30) and smtp_environment.messages == []
    check_regression(sqlite_tracker, "accuracy", 0.7, model=model, dataset=holdout)
    assert wait_for_notifications(timeout=30)
    [message] = smtp_environment.messages
    assert ", 1 regression, " in message["Subject"]
    assert "accuracy of model m" in message.get_content() and "worse than the baseline 0.91" in message.get_content()


def fail_and_wait(run: mt.LiveRun) -> None:
    """The digest is sent from a background thread: its warning comes while waiting."""
    run.fail("stopped by hand")
    assert wait_for_notifications(timeout=30)


def test_a_digest_that_cannot_be_sent_is_reported_not_raised(
    sqlite_tracker: mt.Tracker, smtp_environment: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_NOTIFY_ON", "run-ended")
    monkeypatch.setenv("MLTRACK_SMTP_PORT", str(free_port()))  # nothing listens there
    run = sqlite_tracker.track_training(name="fine")
    with pytest.warns(
        mt.TrackingWarning,
        match=r"the digest .* was not sent: cannot send the digest through the SMTP server 127\.0\.0\.1",
    ):
        fail_and_wait(run)
    assert sqlite_tracker.get(run.id).state is mt.TrainingState.FAILED


def test_login_and_refused_login(smtp_server: tuple[Mailbox, int], sqlite_tracker: mt.Tracker) -> None:
    mailbox, port = smtp_server
    with sqlite_tracker.track_training(name="r") as run:
        run.fail("x")
    digest = build_digest(sqlite_tracker, now_ms() - HOUR_MS)
    settings = NotifySettings(
        host="127.0.0.1",
        port=port,
        recipients=("a@example.com",),
        sender="m@example.com",
        username="ana",
        password="s3cret",
    )
    send_digest(digest, settings)
    assert len(mailbox.messages) == 1
    wrong = NotifySettings(
        host="127.0.0.1",
        port=port,
        recipients=("a@example.com",),
        sender="m@example.com",
        username="ana",
        password="guess",
    )
    with pytest.raises(NotifyError, match=f"the SMTP server 127.0.0.1:{port} refused the login of 'ana': 535"):
        send_digest(digest, wrong)
    closed = NotifySettings(
        host="127.0.0.1", port=free_port(), recipients=("a@example.com",), sender="m@example.com", timeout=5
    )
    with pytest.raises(
        NotifyError, match="cannot send the digest through the SMTP server 127.0.0.1:.*ConnectionRefusedError"
    ):
        send_digest(digest, closed)


def test_settings_come_from_the_environment_over_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings({}) is None  # nothing configured: silent
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "notify.ini").write_text(
        "[smtp]\nhost = smtp.example.com\nport = 465\nusername = ana ; a comment\n\n"
        "[digest]\nto = a@example.com, b@example.com\nfrom = ml@example.com\non = run-ended\n"
    )
    from_file = load_settings({})
    assert (from_file.host, from_file.port, from_file.security, from_file.username) == (
        "smtp.example.com",
        465,
        "ssl",
        "ana",
    )
    assert from_file.recipients == ("a@example.com", "b@example.com") and from_file.events == {"run-ended"}
    overridden = load_settings({"MLTRACK_SMTP_PORT": "587", "MLTRACK_NOTIFY_TO": "c@example.com"})
    assert (overridden.port, overridden.security, overridden.recipients) == (587, "starttls", ("c@example.com",))

    elsewhere = tmp_path / "team.ini"
    elsewhere.write_text("[smtp]\nhost = mail.team\n[digest]\nto = t@example.com\n")
    team = load_settings({"MLTRACK_NOTIFY_CONFIG": str(elsewhere)})
    assert (team.host, team.port, team.security, team.events) == ("mail.team", 25, "none", {"run-failed", "regression"})


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MLTRACK_SMTP_HOST": "smtp"}, "notifications need both an SMTP host and recipients: set MLTRACK_NOTIFY_TO"),
        ({"MLTRACK_NOTIFY_TO": "a@b"}, "set MLTRACK_SMTP_HOST"),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_SMTP_PORT": "smtp"},
            "MLTRACK_SMTP_PORT / [smtp] port = 'smtp': expected a number",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_SMTP_SECURITY": "tls"},
            "expected one of none, starttls, ssl",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_NOTIFY_ON": "daily"},
            "'daily': expected events among run-failed",
        ),
        (
            {"MLTRACK_NOTIFY_CONFIG": "/nonexistent/notify.ini"},
            "MLTRACK_NOTIFY_CONFIG names /nonexistent/notify.ini, which does not exist",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b\r\nBcc: c@d"},
            "MLTRACK_NOTIFY_TO: the address 'a@b.*' holds a line break",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_NOTIFY_FROM": "m@x\nBcc: c@d"},
            "MLTRACK_NOTIFY_FROM: the address 'm@x.*' holds a line break",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_SMTP_PORT": "99999"},
            "expected a port number from 1 to 65535",
        ),
        (
            {"MLTRACK_SMTP_HOST": "smtp", "MLTRACK_NOTIFY_TO": "a@b", "MLTRACK_SMTP_TIMEOUT": "nan"},
            "MLTRACK_SMTP_TIMEOUT / [smtp] timeout = 'nan': expected a positive number",
        ),
    ],
)
def test_bad_settings_name_the_setting(environment: dict[str, str], message: str) -> None:
    with pytest.raises(NotifyConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(environment)


def test_an_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "notify.ini").write_text("[smtp]\nhots = smtp.example.com\n")
    with pytest.raises(NotifyConfigurationError, match=r"unknown setting \[smtp\] hots"):
        load_settings({"MLTRACK_NOTIFY_CONFIG": str(tmp_path / "notify.ini")})


def test_notify_without_settings_says_how_to_configure(mltrack) -> None:
    result = mltrack("notify")
    assert (
        result.exit_code == 1
        and "no SMTP server is configured: set MLTRACK_SMTP_HOST and MLTRACK_NOTIFY_TO" in result.stderr
    )


def test_since_takes_durations_and_dates() -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
    hour = 3_600_000
    assert parse_since("1d", now) == int(now.timestamp() * 1000) - 24 * hour
    assert parse_since("90m", now) == int(now.timestamp() * 1000) - hour * 3 // 2
    assert parse_since("2w", now) == int(now.timestamp() * 1000) - 14 * 24 * hour
    assert parse_since("2025-03-09", now) == int(datetime(2025, 3, 9, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_since("2025-03-09T08:00:00+01:00", now) == int(
        datetime(2025, 3, 9, 7, tzinfo=timezone.utc).timestamp() * 1000
    )
    with pytest.raises(mt.SchemaError, match="expected a duration such as 30m"):
        parse_since("yesterday", now)
    assert parse_since("1969-01-01", now) == 0 == parse_since(f"{'9' * 400}w", now)  # before 1970: everything
