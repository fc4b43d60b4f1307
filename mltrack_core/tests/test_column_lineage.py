"""Column lineage: the explicit form (output -> input columns) and the compact "*" (every input column)."""

from __future__ import annotations

import json
import sqlite3

import jsonschema
import pytest

import mltrack_core as mt
from mltrack_core.schema import ALL_INPUTS, Transform, TypedColumn, entity_from_json

INPUTS = [f"c{i:04d}" for i in range(1_000)]
OUTPUTS = [f"pca{i}" for i in range(200)]


def projection(**fields) -> Transform:
    """A PCA-like vertex: 200 outputs, each computed from all of its 1,000 inputs, written compactly."""
    return Transform(
        name="pca",
        operator="PCA",
        input=[TypedColumn(name=column) for column in INPUTS],
        output=[TypedColumn(name=column) for column in OUTPUTS],
        column_lineage=dict.fromkeys(OUTPUTS, ALL_INPUTS),
        **fields,
    )


def test_the_marker_stands_for_every_input_column():
    transform = projection()
    assert transform.column_lineage["pca7"] == ALL_INPUTS == "*"
    assert transform.inputs_of("pca7") == tuple(INPUTS)
    expanded = transform.expanded_column_lineage()
    assert set(expanded) == set(OUTPUTS)
    assert all(inputs == tuple(INPUTS) for inputs in expanded.values())
    assert transform.inputs_of("not an output") == ()


def test_markers_and_lists_mix_and_a_column_named_star_is_a_list():
    transform = Transform(
        name="t",
        input=[TypedColumn(name="*"), TypedColumn(name="b")],
        column_lineage={"mixed": "*", "star": ["*"], "b2": ("b",)},
    )
    assert transform.column_lineage == {"mixed": "*", "star": ("*",), "b2": ("b",)}
    assert transform.inputs_of("mixed") == ("*", "b")
    assert transform.inputs_of("star") == ("*",)  # the column named "*", not every column
    assert transform.expanded_column_lineage() == {"mixed": ("*", "b"), "star": ("*",), "b2": ("b",)}


@pytest.mark.parametrize(
    ("lineage", "inputs", "message"),
    [
        ({"out": "in"}, ["in"], r"list of input column names, or '\*' for every input column"),
        ({"out": "**"}, ["in"], r"list of input column names, or '\*'"),
        ({"out": "*"}, [], r"column_lineage\['out'\] is '\*' \(every input column\) but the transform lists no input"),
        ({"out": 3}, ["in"], "list of input column names"),
        ({"out": ["in", ""]}, ["in"], "non-empty string"),
        ({"": "*"}, ["in"], "non-empty string"),
    ],
)
def test_malformed_lineage_is_refused_with_the_reason(lineage, inputs, message):
    with pytest.raises(mt.SchemaError, match=message):
        Transform(name="t", input=[TypedColumn(name=column) for column in inputs], column_lineage=lineage)


def test_json_round_trip_keeps_the_marker_as_it_is():
    transform = projection()
    document = transform.to_json()
    assert document["column_lineage"]["pca0"] == "*"
    text = json.dumps(document)
    assert entity_from_json(json.loads(text)) == transform
    explicit = {output: list(INPUTS) for output in OUTPUTS}
    assert len(text) * 50 < len(json.dumps(explicit))  # the point of the marker


def test_sqlite_stores_the_compact_form_and_reads_it_back(tmp_path):
    path = tmp_path / "store.db"
    with mt.connect(f"sqlite:///{path}") as tracker:
        stored = tracker.track_transform(projection())
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        found = reader.get(stored.id)
    assert found == stored
    assert found.inputs_of("pca199") == tuple(INPUTS)
    (document,) = sqlite3.connect(path).execute("SELECT document FROM entities WHERE id = ?", (stored.id,)).fetchone()
    assert json.loads(document)["column_lineage"] == dict.fromkeys(OUTPUTS, "*")


def test_the_explicit_form_written_before_the_marker_is_still_read(tmp_path):
    """A store written by an earlier version holds every input column by name: it reads as it did."""
    path = tmp_path / "old.db"
    old = Transform(
        name="pca",
        input=[TypedColumn(name=column) for column in INPUTS[:3]],
        output=[TypedColumn(name="pca0")],
        column_lineage={"pca0": INPUTS[:3]},
    )
    with mt.connect(f"sqlite:///{path}") as tracker:
        tracker.track_transform(old)
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        found = reader.get(old.id)
    assert found.column_lineage == {"pca0": tuple(INPUTS[:3])}
    assert found.inputs_of("pca0") == tuple(INPUTS[:3]) == found.expanded_column_lineage()["pca0"]


def test_memory_store_round_trip(tracker):
    stored = tracker.track_transform(projection())
    assert tracker.get(stored.id).column_lineage == dict.fromkeys(OUTPUTS, "*")


def test_the_published_entity_schema_allows_the_marker():
    from mltrack_core.server.models import entity_component_schemas

    components = entity_component_schemas()
    document = {"$ref": "#/components/schemas/Entity", "components": {"schemas": components}}
    validator = jsonschema.Draft202012Validator(document)
    validator.validate(projection().to_json())
    wrong = {**projection().to_json(), "column_lineage": {"pca0": "every"}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(wrong)


def test_mltrack_show_says_what_the_marker_means(tmp_path):
    from click.testing import CliRunner

    from mltrack_core.cli import main

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with mt.connect(uri) as tracker:
        stored = tracker.track_transform(projection())
    shown = CliRunner().invoke(main, ["--uri", uri, "show", stored.id], catch_exceptions=False)
    assert shown.exit_code == 0
    assert '("*": all 1000 input columns)' in " ".join(shown.output.split())
    as_json = CliRunner().invoke(main, ["--uri", uri, "show", "--json", stored.id], catch_exceptions=False)
    assert json.loads(as_json.output)["column_lineage"]["pca0"] == "*"


def test_the_marker_survives_an_export_to_the_published_schema_and_back(tmp_path):
    from mltrack_core.exporters.ml_experiments_schema import export
    from mltrack_core.importers.ml_experiments_schema import import_directory

    with mt.connect("memory://") as source:
        stored = source.track_transform(projection())
        export(source, tmp_path / "out")
    with mt.connect("memory://") as target:
        import_directory(target, tmp_path / "out")
        assert target.get(stored.id) == stored
        assert target.get(stored.id).inputs_of("pca0") == tuple(INPUTS)
