"""The dataset page: facts, typed schema, statistics, histograms as inline SVG, derivation, models, evaluations.

The data is the demo's seeded churn data (600 rows), with statistics and histograms computed here from its rows.
"""

from __future__ import annotations

import html
import re
import statistics
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.demo import FEATURES, _write_dataset
from mltrack_core.schema import DataStatistic, Histogram, TypedColumn, TypeHint
from mltrack_core.ui.pages.dataset import COLUMNS_SHOWN, SPARK_HEIGHT, histogram_chart

HOSTILE = "<script>alert(1)</script>"
BUCKETS = 8


def churn_statistics(rows: list[tuple[float, ...]]) -> tuple[list[DataStatistic], list[Histogram]]:
    """Mean, standard deviation, minimum, maximum of each feature, and its equal-width histogram (edges as labels)."""
    stats, histograms = [], []
    for index, column in enumerate(FEATURES):
        values = [row[index] for row in rows]
        low, high = min(values), max(values)
        stats += [
            DataStatistic(name="mean", value=statistics.fmean(values), columns=[column]),
            DataStatistic(name="stddev", value=statistics.stdev(values), columns=[column]),
            DataStatistic(name="min", value=low, columns=[column]),
            DataStatistic(name="max", value=high, columns=[column]),
        ]
        width = (high - low) / BUCKETS
        counts = [0] * BUCKETS
        for value in values:
            counts[min(int((value - low) / width), BUCKETS - 1)] += 1
        edges = [f"{low + width * bucket:.2f}" for bucket in range(BUCKETS + 1)]
        histograms.append(Histogram(column=column, bucket_values=counts, bucket_labels=edges))
    stats.append(DataStatistic(name="churn rate", value=statistics.fmean(row[-1] for row in rows)))
    return stats, histograms


@pytest.fixture
def churn(tracker: mt.Tracker, tmp_path: Path) -> dict[str, mt.Entity]:
    """The demo's churn data with its statistics, a train/test split, a model trained on it and two evaluations."""
    data_file = tmp_path / "churn.csv"
    rows = _write_dataset(data_file)
    stats, histograms = churn_statistics(rows)
    full = tracker.track_dataset(
        name="churn-synthetic",
        version="1",
        location=data_file.resolve().as_uri(),
        fingerprint="sha256:" + "ab" * 32,
        schema=[TypedColumn(name=name, typing=TypeHint.DOUBLE) for name in FEATURES]
        + [TypedColumn(name="churned", typing=TypeHint.INT)],
        target="churned",
        row_count=len(rows),
        statistics=stats,
        histograms=histograms,
    )
    train = tracker.track_dataset(
        name="churn-train", derived_from=[full], derivation="rows 0-449", row_count=450, target="churned"
    )
    test = tracker.track_dataset(
        name="churn-test", derived_from=[full], derivation="rows 450-599", row_count=150, target="churned"
    )
    model = tracker.track_model(name="churn-logreg", learning_algorithm="LogisticRegression", trained_on=train)
    baseline = tracker.track_model(name="churn-majority", learning_algorithm="MajorityClass", trained_on=train)
    evaluation = tracker.track_evaluation(
        {"accuracy": 0.82, "f1": 0.71}, computed_by=model, on_dataset=test, procedure="holdout"
    )
    tracker.track_evaluation({"accuracy": 0.64}, computed_by=baseline, on_dataset=test, procedure="holdout")
    tracker.flush()
    return {
        "full": full,
        "train": train,
        "test": test,
        "model": model,
        "evaluation": evaluation,
        "rows": rows,
        "histograms": histograms,
    }


def page(client: TestClient, dataset_id: str) -> str:
    answer = client.get(f"/ui/datasets/{dataset_id}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def section(text: str, section_id: str) -> str:
    """The HTML of the page's ``<section ... id="section_id">`` (sections of this page are not nested)."""
    found = re.search(rf'<section class="[^"]*" id="{section_id}">(.*?)</section>', text, re.S)
    assert found, f"no section {section_id}"
    return found.group(1)


def test_facts_schema_and_statistics(client: TestClient, churn: dict) -> None:
    full = churn["full"]
    text = page(client, full.id)
    assert "<h1>churn-synthetic</h1>" in text
    assert "version 1" in text
    assert full.fingerprint in text
    assert "600" in text
    # a file location is shown as text, never as a link target
    assert html.escape(full.location) in text
    assert f'href="{full.location}"' not in text

    schema = section(text, "schema")
    for column in [*FEATURES, "churned"]:
        assert f'<tr data-column="{column}">' in schema
    assert re.search(r'data-column="tenure"><td>tenure</td><td class="mono">DOUBLE</td>', schema)
    assert re.search(
        r'data-column="churned"><td>churned</td><td class="mono">INT</td><td><span class="badge">target', schema
    )

    table = section(text, "statistics")
    head = re.search(r"<thead><tr><th>Column</th>(.*?)</tr></thead>", table).group(1)
    assert re.findall(r'<th class="num">([^<]*)</th>', head) == ["mean", "stddev", "min", "max"]
    for index, column in enumerate(FEATURES):  # a row per column, a column per statistic
        values = [row[index] for row in churn["rows"]]
        cells = re.search(rf'<tr data-column="{column}"><td>{column}</td>(.*?)</tr>', table).group(1)
        expected = [statistics.fmean(values), statistics.stdev(values), min(values), max(values)]
        assert re.findall(r'<td class="num">([^<]*)</td>', cells) == [f"{value:.4g}" for value in expected]
    churn_rate = statistics.fmean(row[-1] for row in churn["rows"])
    assert f'<tr><td>churn rate</td><td>(dataset)</td><td class="num">{churn_rate:.4g}</td></tr>' in table


def test_histograms_are_inline_svg_bars(client: TestClient, churn: dict) -> None:
    text = page(client, churn["full"].id)
    charts = re.findall(r'<svg class="spark"[^>]*>(.*?)</svg>', section(text, "histograms"), re.S)
    assert len(charts) == len(FEATURES)
    for chart, histogram in zip(charts, churn["histograms"], strict=True):
        bars = re.findall(
            r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"><title>([^<]*)</title>', chart
        )
        assert len(bars) == BUCKETS == len(histogram.bucket_values)
        tallest = max(histogram.bucket_values)
        for (_x, y, height, title), count, low, high in zip(
            bars, histogram.bucket_values, histogram.bucket_labels, histogram.bucket_labels[1:], strict=False
        ):
            assert title == html.escape(f"{low} – {high}: {count}")
            assert float(height) == pytest.approx(SPARK_HEIGHT * count / tallest, abs=0.01)
            assert float(y) + float(height) == pytest.approx(SPARK_HEIGHT, abs=0.01)
    assert "<script" not in section(text, "histograms")  # drawn on the server: no script needed


def test_derivation_both_ways(client: TestClient, churn: dict) -> None:
    full, train, test = churn["full"], churn["train"], churn["test"]
    derivation = section(page(client, full.id), "derivation")
    assert "Not derived from another dataset." in derivation
    assert f'href="/ui/datasets/{train.id}"' in derivation and ">churn-train</a>" in derivation
    assert f'href="/ui/datasets/{test.id}"' in derivation and "rows 450-599" in derivation

    derivation = section(page(client, train.id), "derivation")
    assert f'<ul class="derived-from">\n        <li><a href="/ui/datasets/{full.id}"' in derivation
    assert "No dataset is derived from it." in derivation


def test_models_evaluations_leaderboards_and_lineage(client: TestClient, churn: dict) -> None:
    train, test, model = churn["train"], churn["test"], churn["model"]
    text = page(client, train.id)
    models = section(text, "models")
    assert f'href="/ui/models/{model.id}"' in models and "churn-majority" in models
    assert "No evaluation on it." in section(text, "evaluations")
    assert f'href="/ui/lineage/{train.id}"' in text

    evaluations = section(page(client, test.id), "evaluations")
    assert evaluations.count("<tr data-evaluation-id=") == 2
    assert f'<tr data-evaluation-id="{churn["evaluation"].id}">' in evaluations
    assert f'href="/ui/leaderboard/{test.id}?metric=accuracy"' in evaluations
    assert f'href="/ui/leaderboard/{test.id}?metric=f1"' in evaluations
    assert f'href="/ui/models/{model.id}"' in evaluations
    # the leaderboard link leads to a page
    assert client.get(f"/ui/leaderboard/{test.id}?metric=accuracy").status_code == 200


def test_hostile_text_is_escaped(client: TestClient, tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(
        name=HOSTILE,
        location="javascript:alert(1)",
        fingerprint=HOSTILE,
        derivation=HOSTILE,
        schema=[TypedColumn(name=HOSTILE)],
        statistics=[DataStatistic(name=HOSTILE, value=HOSTILE, columns=[HOSTILE])],
        histograms=[Histogram(column=HOSTILE, bucket_values=[1, 2], bucket_labels=[HOSTILE, '"><b>'])],
        annotations={HOSTILE: HOSTILE},
        tags={HOSTILE: HOSTILE},
        comments=HOSTILE,
    )
    tracker.track_evaluation(
        {HOSTILE: 1.0},
        computed_by=tracker.track_model(name=HOSTILE, learning_algorithm=HOSTILE, trained_on=dataset),
        on_dataset=dataset,
    )
    tracker.flush()
    text = page(client, dataset.id)
    assert HOSTILE not in text
    assert '"><b>' not in text
    assert "javascript:" not in text.replace("javascript:alert(1)", "", 1)  # shown once, as text
    assert 'href="javascript:' not in text
    assert text.count(html.escape(HOSTILE)) >= 10
    assert "metric=%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in text  # the leaderboard link's query is encoded


def test_web_location_is_a_link(client: TestClient, tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(name="iris", location="https://example.org/iris.csv?v=1&x=2")
    tracker.flush()
    text = page(client, dataset.id)
    assert '<a href="https://example.org/iris.csv?v=1&amp;x=2" rel="noopener noreferrer nofollow">' in text


def test_unknown_dataset_is_a_404_page_and_other_kinds_redirect(client: TestClient, churn: dict) -> None:
    answer = client.get("/ui/datasets/ds-nothing-here")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "ds-nothing-here" in answer.text

    answer = client.get(f"/ui/datasets/{churn['model'].id}", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"/ui/models/{churn['model'].id}"


def test_a_wide_dataset_shows_its_first_columns_unless_asked_for_all(client: TestClient, tracker: mt.Tracker) -> None:
    names = [f"pixel_{index}" for index in range(COLUMNS_SHOWN + 50)]
    dataset = tracker.track_dataset(
        name="wide",
        schema=[TypedColumn(name=name, typing=TypeHint.INT) for name in names],
        statistics=[DataStatistic(name="mean", value=index / 2, columns=[name]) for index, name in enumerate(names)],
        histograms=[Histogram(column=name, bucket_values=[index, 1]) for index, name in enumerate(names)],
    )
    tracker.flush()
    text = page(client, dataset.id)
    assert "250 columns" in text
    assert f'href="/ui/datasets/{dataset.id}?columns=all">show all</a>' in text
    assert section(text, "schema").count("<tr data-column=") == COLUMNS_SHOWN
    assert section(text, "statistics").count("<tr data-column=") == COLUMNS_SHOWN
    assert section(text, "histograms").count('<svg class="spark"') == COLUMNS_SHOWN
    assert f'data-column="pixel_{COLUMNS_SHOWN - 1}"' in text and f'data-column="pixel_{COLUMNS_SHOWN}"' not in text

    text = page(client, f"{dataset.id}?columns=all")
    assert "show all" not in text
    assert section(text, "schema").count("<tr data-column=") == len(names)
    assert section(text, "histograms").count('<svg class="spark"') == len(names)


def test_histogram_chart_scales_and_labels_buckets() -> None:
    chart = histogram_chart(
        Histogram(column="x", bucket_values=[2, 4, None, -1], bucket_labels=["a", "b", "c", "d"]), width=100, height=40
    )
    assert [bar.height for bar in chart.bars] == [20, 40, 0, 0]  # no value, or a negative one: an empty bar
    assert [bar.x for bar in chart.bars] == [0, 25, 50, 75]
    assert [bar.title for bar in chart.bars] == ["a: 2", "b: 4", "c: None", "d: -1"]
    unlabelled = histogram_chart(Histogram(column="x", bucket_values=[0.0, 0.0]))
    assert [bar.height for bar in unlabelled.bars] == [0, 0]
    assert [bar.title for bar in unlabelled.bars] == ["bucket 1: 0", "bucket 2: 0"]
