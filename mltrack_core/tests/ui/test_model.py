"""The model page: facts, runs, evaluations, and the transformation DAG handed to graph.js.

The column DAGs are made of transforms written as the scikit-learn and Spark plugins record
them (a ColumnTransformer pipeline on the iris columns; a StringIndexer, VectorAssembler and
logistic regression); the network layout is a ResNet-101-like symbol of 345 operators named,
typed and shaped as mltrack_mxnet records them. The expected vertices and edges are computed
here from the stored transforms, independently of the page's code.
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.schema import (
    Dataset,
    Model,
    Parameter,
    Score,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
)
from mltrack_core.ui.pages.model import default_collapse_depth, drawn_count, name_separator, prefix_of

HOSTILE = "<script>alert(1)</script>"
IRIS = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


def page_data(page: str, element_id: str) -> Any:
    """The JSON page data block ``element_id`` of an HTML page."""
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert found is not None, f"no page data {element_id!r}"
    return json.loads(found.group(1))


def columns(*names: str, typing: str = "DOUBLE") -> list[TypedColumn]:
    return [TypedColumn(name=name, typing=typing) for name in names]


# ---------------------------------------------------------------- what the stored transforms imply


def expected_column_dag(transforms: list[Transform]) -> tuple[set[str], set[tuple[str, str, str]]]:
    """Vertices and (source, target, operator) edges of the column DAG, by the rule the page documents."""
    by_id = {t.id: t for t in transforms}
    outputs = {t.id: {c.name for c in t.output} for t in transforms}

    inputs = {t.id: {c.name for c in t.input} for t in transforms}

    def vertex(transform: Transform, column: str) -> str:
        producer = next((u for u in transform.input_transforms if column in outputs.get(u, ())), None)
        if producer is not None:
            return f"{producer}/{column}"
        branch = next((u for u in transform.input_transforms if column in inputs.get(u, ())), None)
        return f"/{column}" if branch is None else vertex(by_id[branch], column)

    def passed_on(transform: Transform, column: str) -> str | None:
        for u in transform.input_transforms:
            if column in outputs.get(u, ()):
                return f"{u}/{column}"
        for u in transform.input_transforms:
            branch = by_id[u].name.removeprefix(transform.name + "__").split("__")[0]
            if column.startswith(branch + "__") and column[len(branch) + 2 :] in outputs[u]:
                return f"{u}/{column[len(branch) + 2 :]}"
        return None

    vertices: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    for t in transforms:
        vertices.update(vertex(t, c.name) for c in t.input)
        vertices.update(f"{t.id}/{c.name}" for c in t.output)
        if not t.output:
            vertices.add(t.id)
            members = [u for u in t.input_transforms if not outputs[u]]
            sources = members or [vertex(t, c.name) for c in t.input]
            edges.update((source, t.id, t.operator) for source in sources)
        for c in t.output:
            source = passed_on(t, c.name)
            if source is not None:
                edges.add((source, f"{t.id}/{c.name}", t.operator))
                continue
            lineage = t.column_lineage.get(c.name, ())
            names = [i.name for i in t.input] if lineage == "*" else lineage
            edges.update((vertex(t, name), f"{t.id}/{c.name}", t.operator) for name in names)
    return vertices, edges


def drawn(graph: dict[str, Any]) -> tuple[set[str], set[tuple[str, str, str]]]:
    vertices = {node["id"] for node in graph["nodes"]}
    edges = {(edge["source"], edge["target"], edge.get("label", "")) for edge in graph["edges"]}
    assert len(vertices) == len(graph["nodes"]), "a vertex is drawn twice"
    return vertices, edges


# ---------------------------------------------------------------- stored entities


def iris_data(tracker: mt.Tracker, name: str = "iris") -> Dataset:
    return tracker.track_dataset(
        name=name, schema=[*columns(*IRIS), TypedColumn(name="species", typing="STRING")], target="species"
    )


def sklearn_pipeline(tracker: mt.Tracker, data: Dataset, *, hostile: bool = False) -> tuple[Model, list[Transform]]:
    """Pipeline([("preprocess", ColumnTransformer([("num", StandardScaler(), IRIS), ("pca", PCA(2), IRIS)])),
    ("classifier", LogisticRegression(C=0.5))]) as mltrack_sklearn records it (``hostile``: a hostile column and
    operator name in a passthrough branch)."""
    version = "1.5.2"
    raw = columns(*IRIS)
    scale = Transform(
        name="preprocess__num",
        operator="StandardScaler",
        framework="scikit-learn",
        framework_version=version,
        state="fitted",
        parameters=[Parameter.of("with_mean", True, default=True)],
        input=raw,
        output=raw,
        column_lineage={name: [name] for name in IRIS},
    )
    pca = Transform(
        name="preprocess__pca",
        operator="PCA",
        framework="scikit-learn",
        framework_version=version,
        state="fitted",
        parameters=[Parameter.of("n_components", 2, default=None)],
        input=raw,
        output=columns("pca0", "pca1"),
        column_lineage={"pca0": "*", "pca1": "*"},
    )
    branches = [scale, pca]
    merged_names = [f"num__{name}" for name in IRIS] + ["pca__pca0", "pca__pca1"]
    merged_lineage: dict[str, Any] = {f"num__{name}": [name] for name in IRIS} | {"pca__pca0": "*", "pca__pca1": "*"}
    merge_input = raw
    if hostile:
        odd = Transform(
            name="preprocess__odd",
            operator=HOSTILE,
            framework="scikit-learn",
            input=columns(HOSTILE),
            output=columns(HOSTILE),
            column_lineage={HOSTILE: [HOSTILE]},
        )
        branches.append(odd)
        merged_names.append(f"odd__{HOSTILE}")
        merged_lineage[f"odd__{HOSTILE}"] = [HOSTILE]
        merge_input = [*raw, *columns(HOSTILE)]
    preprocess = Transform(
        name="preprocess",
        operator="ColumnTransformer",
        framework="scikit-learn",
        framework_version=version,
        state="fitted",
        input=merge_input,
        output=columns(*merged_names),
        input_transforms=[branch.id for branch in branches],
        column_lineage=merged_lineage,
    )
    classifier = Transform(
        name="classifier",
        operator="LogisticRegression",
        framework="scikit-learn",
        framework_version=version,
        state="fitted",
        parameters=[Parameter.of("C", 0.5, default=1.0)],
        input=columns(*merged_names),
        input_transforms=[preprocess.id],
    )
    transforms = [*branches, preprocess, classifier]
    tracker.write(transforms)
    model = tracker.track_model(
        name="iris-pipeline",
        learning_algorithm="LogisticRegression",
        trained_on=data,
        framework="scikit-learn",
        framework_version=version,
        hyperparameters=[Parameter.of("classifier__C", 0.5, default=1.0), Parameter.of("classifier__tol", 1e-4)],
        transforms=[t.id for t in transforms],
        location="file:///models/iris.joblib",
    )
    return model, transforms


def spark_pipeline(tracker: mt.Tracker, data: Dataset) -> tuple[Model, list[Transform]]:
    """A fitted PipelineModel (StringIndexer, VectorAssembler, LogisticRegression) as mltrack_spark records it."""
    indexer = Transform(
        name="stages_0",
        operator="StringIndexerModel",
        framework="pyspark",
        framework_version="3.5.1",
        input=columns("species", typing="STRING"),
        output=columns("label"),
        column_lineage={"label": ["species"]},
    )
    assembler = Transform(
        name="stages_1",
        operator="VectorAssembler",
        framework="pyspark",
        framework_version="3.5.1",
        input=columns(*IRIS),
        output=columns("features", typing="VECTOR"),
        column_lineage={"features": "*"},
    )
    learner = Transform(
        name="stages_2",
        operator="LogisticRegressionModel",
        framework="pyspark",
        framework_version="3.5.1",
        input=[*columns("features", typing="VECTOR"), *columns("label")],
        output=[*columns("rawPrediction", "probability", typing="VECTOR"), *columns("prediction")],
        input_transforms=[assembler.id, indexer.id],
        column_lineage={"rawPrediction": ["features"], "probability": ["features"], "prediction": ["features"]},
    )
    transforms = [indexer, assembler, learner]
    tracker.write(transforms)
    model = tracker.track_model(
        name="spark-lr",
        learning_algorithm="LogisticRegression",
        trained_on=data,
        framework="pyspark",
        transforms=[t.id for t in transforms],
    )
    return model, transforms


RESNET101_UNITS = (3, 4, 23, 3)


def resnet_layout(tracker: mt.Tracker, data: Dataset, units: tuple[int, ...] = RESNET101_UNITS) -> tuple[Model, list]:
    """A ResNet-like MXNet symbol's operators as mltrack_mxnet's network_layout records them (names, ops, shapes)."""
    transforms: list[Transform] = []
    last: dict[str, str] = {}

    def add(name: str, op: str, shape: tuple[int, ...], inputs: list[str], weights: int = 0) -> str:
        parameters = [Parameter(name="output_shape", value=shape, doc="shape of the first output, batch first")]
        if weights:
            parameters.append(Parameter(name=f"{name}_weight.shape", value=(weights,), doc="learned parameter"))
            parameters.append(Parameter(name="parameter_count", value=weights))
        transform = Transform(
            name=name,
            operator=op,
            framework="mxnet",
            framework_version="1.9.1",
            parameters=parameters,
            input=[TypedColumn(name=f"{source}_output") for source in inputs] or [TypedColumn(name="data")],
            output=[TypedColumn(name=f"{name}_output")],
            input_transforms=[last[source] for source in inputs],
        )
        transforms.append(transform)
        last[name] = transform.id
        return name

    side = 56
    x = add("bn_data", "BatchNorm", (1, 3, 224, 224), [], 6)
    x = add("conv0", "Convolution", (1, 64, 112, 112), [x], 9408)
    x = add("bn0", "BatchNorm", (1, 64, 112, 112), [x], 128)
    x = add("relu0", "Activation", (1, 64, 112, 112), [x])
    x = add("pooling0", "Pooling", (1, 64, side, side), [x])
    plus = 0
    for stage, count in enumerate(units, start=1):
        width = 64 * 2 ** (stage - 1)
        if stage > 1:
            side //= 2
        for unit in range(1, count + 1):
            prefix = f"stage{stage}_unit{unit}"
            shortcut = x
            y = x
            for step, channels in ((1, width), (2, width), (3, 4 * width)):
                y = add(f"{prefix}_bn{step}", "BatchNorm", (1, channels, side, side), [y], 2 * channels)
                y = add(f"{prefix}_relu{step}", "Activation", (1, channels, side, side), [y])
                y = add(f"{prefix}_conv{step}", "Convolution", (1, channels, side, side), [y], channels * channels)
            if unit == 1:
                shortcut = add(f"{prefix}_sc", "Convolution", (1, 4 * width, side, side), [shortcut], 4 * width * width)
            x = add(f"_plus{plus}", "elemwise_add", (1, 4 * width, side, side), [y, shortcut])
            plus += 1
    x = add("bn1", "BatchNorm", (1, 2048, side, side), [x], 4096)
    x = add("relu1", "Activation", (1, 2048, side, side), [x])
    x = add("pool1", "Pooling", (1, 2048, 1, 1), [x])
    x = add("flatten0", "Flatten", (1, 2048), [x])
    x = add("fc1", "FullyConnected", (1, 1000), [x], 2049000)
    add("softmax", "SoftmaxOutput", (1, 1000), [x])
    tracker.write(transforms)
    total = sum(p.value for t in transforms for p in t.parameters if p.name == "parameter_count")
    model = tracker.track_model(
        name="resnet101",
        learning_algorithm="ResNet",
        trained_on=data,
        framework="mxnet",
        framework_version="1.9.1",
        hyperparameters=[Parameter.of("network.parameter_count", total), Parameter.of("optimizer", "sgd")],
        transforms=[t.id for t in transforms],
    )
    return model, transforms


# ---------------------------------------------------------------- the page


def test_model_page_shows_facts_runs_evaluations_and_links(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    test_data = tracker.track_dataset(name="iris-test", derived_from=[data.id], derivation="holdout 30%")
    model, _ = sklearn_pipeline(tracker, data)
    run = TrainingRun(
        name="fit-1",
        state=TrainingState.FINISHED,
        start_time=1_700_000_000_000,
        end_time=1_700_000_060_000,
        for_model=model.id,
        trained_on=data.id,
    )
    tracker.write([run])
    evaluation = tracker.track_evaluation(
        {"accuracy": 0.9556, "log_loss": 0.1234, "per_class": [1.0, 0.9, 0.95]},
        computed_by=model,
        on_dataset=test_data,
        procedure="holdout",
    )
    tracker.flush()
    answer = client.get(f"/ui/models/{model.id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "iris-pipeline" in page and "LogisticRegression" in page
    assert "scikit-learn 1.5.2" in page
    assert "file:///models/iris.joblib" in page
    assert f'href="/ui/datasets/{data.id}"' in page  # the training data
    assert f'href="/ui/runs/{run.id}"' in page and "fit-1" in page
    assert f'href="/ui/lineage/{model.id}"' in page
    # the non-default hyperparameter is marked, the default one is not
    assert re.search(r'class="mono non-default"[^>]*>classifier__C<', page)
    assert re.search(r'class="mono "[^>]*>classifier__tol<', page)
    # the evaluation's scalar scores, each linking to its leaderboard on that dataset
    assert f'data-evaluation-id="{evaluation.id}"' in page
    assert f'href="/ui/leaderboard/{test_data.id}?metric=accuracy"' in page
    assert f'href="/ui/leaderboard/{test_data.id}?metric=log_loss"' in page
    assert ">0.9556<" in page and ">0.1234<" in page
    assert "metric=per_class" not in page  # an array is not ranked


def test_sklearn_column_dag_has_a_vertex_per_column_and_an_edge_per_lineage_pair(
    tracker: mt.Tracker, client: TestClient
) -> None:
    data = iris_data(tracker)
    model, transforms = sklearn_pipeline(tracker, data)
    tracker.flush()
    page = client.get(f"/ui/models/{model.id}").text
    graph = page_data(page, "model-graph")
    assert drawn(graph) == expected_column_dag(transforms)
    vertices = {node["id"]: node for node in graph["nodes"]}
    # the model's input columns link to the training data, produced columns to their transform
    assert vertices[f"/{IRIS[0]}"]["href"] == f"/ui/datasets/{data.id}"
    scale = transforms[0]
    assert vertices[f"{scale.id}/{IRIS[0]}"]["href"] == f"/ui/entities/{scale.id}"
    # the scaler's output is its own vertex (not its input); PCA's outputs come from every input column
    assert (f"/{IRIS[0]}", f"{scale.id}/{IRIS[0]}", "StandardScaler") in drawn(graph)[1]
    pca = transforms[1]
    assert {(s, t) for s, t, _ in drawn(graph)[1] if t == f"{pca.id}/pca0"} == {
        (f"/{name}", f"{pca.id}/pca0") for name in IRIS
    }
    # the ColumnTransformer passes on its branches' columns under their names
    preprocess = transforms[-2]
    assert (f"{pca.id}/pca0", f"{preprocess.id}/pca__pca0", "ColumnTransformer") in drawn(graph)[1]
    assert (f"{scale.id}/{IRIS[1]}", f"{preprocess.id}/num__{IRIS[1]}", "ColumnTransformer") in drawn(graph)[1]
    # the learner consumes the merged columns and is a vertex of its own
    classifier = transforms[-1]
    assert vertices[classifier.id]["class"] == "operator sink"
    assert graph["rankdir"] == "LR" and "collapse" not in graph
    assert 'data-graph="model-graph"' in page and "js/graph.js" in page and "vendor/dagre/dagre.min.js" in page


def test_spark_column_dag(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    model, transforms = spark_pipeline(tracker, data)
    tracker.flush()
    graph = page_data(client.get(f"/ui/models/{model.id}").text, "model-graph")
    vertices, edges = drawn(graph)
    assert (vertices, edges) == expected_column_dag(transforms)
    indexer, assembler, learner = transforms
    # 5 input columns, label, features, 3 predictions
    assert len(vertices) == 10
    assert (f"{indexer.id}/label", f"{learner.id}/prediction", "LogisticRegressionModel") not in edges
    assert (f"{assembler.id}/features", f"{learner.id}/prediction", "LogisticRegressionModel") in edges


def test_operators_view_of_a_column_model(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    model, transforms = sklearn_pipeline(tracker, data)
    tracker.flush()
    page = client.get(f"/ui/models/{model.id}", params={"view": "operators"}).text
    graph = page_data(page, "model-graph")
    assert [node["id"] for node in graph["nodes"]] == [t.id for t in transforms]
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        (upstream, t.id) for t in transforms for upstream in t.input_transforms
    }
    assert graph["collapse"]["separator"] == "__"  # scikit-learn's parameter paths
    assert graph["collapse"]["depth"] == 0  # a small graph opens with everything shown


def test_mxnet_network_layout_carries_operator_types_and_shapes(tracker: mt.Tracker, client: TestClient) -> None:
    data = tracker.track_dataset(name="imagenet-val")
    model, transforms = resnet_layout(tracker, data)
    tracker.flush()
    assert len(transforms) == 345
    started = time.perf_counter()
    answer = client.get(f"/ui/models/{model.id}")
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text[:500]
    page = answer.text
    graph = page_data(page, "model-graph")
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert list(nodes) == [t.id for t in transforms]
    conv = next(t for t in transforms if t.name == "stage3_unit7_conv2")
    assert nodes[conv.id]["operator"] == "Convolution"
    assert nodes[conv.id]["shape"] == "1×256×14×14"
    assert nodes[conv.id]["sub"] == "Convolution  1×256×14×14"
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        (upstream, t.id) for t in transforms for upstream in t.input_transforms
    }
    # a large network opens collapsed by name prefix: stages' units are groups
    collapse = graph["collapse"]
    assert collapse["separator"] == "_"
    assert collapse["depth"] == collapse["default"] == 2
    assert 20 <= drawn_count([t.name for t in transforms], "_", 2) <= 100
    assert "Network layout" in page and "345 transforms" in page
    assert f"{model.hyperparameters[0].value:,}" in page  # the parameter count
    assert "1×256×14×14" in page  # the table view (no JS) shows the shapes too
    print(f"model page of {len(transforms)} operators: {elapsed * 1000:.0f} ms")


def test_collapse_depth_and_opened_groups_come_from_the_url(tracker: mt.Tracker, client: TestClient) -> None:
    data = tracker.track_dataset(name="imagenet-val")
    model, _ = resnet_layout(tracker, data, units=(3, 4, 6, 3))
    tracker.flush()
    url = f"/ui/models/{model.id}"
    everything = page_data(client.get(url, params={"collapse": 0}).text, "model-graph")["collapse"]
    assert everything["depth"] == 0 and everything["default"] == 2
    page = client.get(url, params=[("collapse", "1"), ("expand", "stage2"), ("expand", HOSTILE)]).text
    chosen = page_data(page, "model-graph")["collapse"]
    assert chosen["depth"] == 1 and chosen["expanded"] == ["stage2", HOSTILE]
    assert '<option value="1" selected>' in page
    assert HOSTILE not in page
    deepest = page_data(client.get(url, params={"collapse": 50}).text, "model-graph")["collapse"]
    assert deepest["depth"] == deepest["deepest"] == 2  # stage1_unit1_conv1: 2 separators
    assert client.get(url, params={"collapse": -1}).status_code == 422


def test_grouping_by_name_prefix() -> None:
    names = ["conv0", "bn0", "stage1_unit1_conv1", "stage1_unit1_bn1", "stage1_unit2_conv1", "_plus0", "stage2_unit1"]
    assert name_separator(names) == "_"
    assert name_separator(["a.b", "a.c", "d"]) == "."
    assert name_separator(["preprocess__num__scale", "classifier", "scaler"]) is None
    assert name_separator(["preprocess__num__scale", "preprocess__cat"]) == "__"
    assert [prefix_of(name, "_", 1) for name in names] == [None, None, "stage1", "stage1", "stage1", None, "stage2"]
    assert [prefix_of(name, "_", 2) for name in names] == [
        None,
        None,
        "stage1_unit1",
        "stage1_unit1",
        "stage1_unit2",
        None,
        None,
    ]
    assert prefix_of("stage1_unit1_conv1", "_", 0) is None
    # depth 1: conv0, bn0, _plus0, stage1 (3), stage2 (1 member: drawn as itself)
    assert drawn_count(names, "_", 1) == 5
    assert drawn_count(names, "_", 2) == 6
    assert default_collapse_depth(names, "_") == 0  # small: everything shown
    many = [f"block{b}_layer{i}_op{j}" for b in range(4) for i in range(8) for j in range(3)]
    assert default_collapse_depth(many, "_") == 2  # 4 groups at depth 1, 32 at depth 2
    assert default_collapse_depth(many, None) == 0
    # grouping by block would make block0 -> add0 -> block0 a cycle: the layers are the groups
    chain = [f"block{b}_layer{i}_op{j}" for b in range(4) for i in range(8) for j in range(3)]
    chain += [f"add{i}" for i in range(32)]
    edges = [(k, k + 1) for k in range(96) if k % 3 != 2]  # inside a layer
    edges += [(k * 3 + 2, 96 + k) for k in range(32)] + [(96 + k, (k + 1) * 3) for k in range(31)]  # layer, add, next
    assert default_collapse_depth(chain, "_") == 1
    assert default_collapse_depth(chain, "_", edges) == 2
    # a depth that leaves more than half the operators alone is no collapse: the coarser depth opens
    shallow = [f"net_part{p}_op{i}" for p in range(4) for i in range(10)] + [f"net_op{i}" for i in range(30)]
    assert drawn_count(shallow, "_", 2) == 34 and drawn_count(shallow, "_", 1) == 1
    assert default_collapse_depth(shallow, "_") == 2
    deep = [f"net_block{i}_op{j}" for i in range(3) for j in range(30)]  # depth 2: 3 groups; depth 1: 1
    assert default_collapse_depth(deep, "_") == 2
    almost_flat = [f"net_op{i}_fwd" for i in range(61)] + ["net_x_a_b", "net_x_a_c"]  # depth 2: 62 of 63
    assert default_collapse_depth(almost_flat, "_") == 0
    flat = [f"op{i}" for i in range(100)]
    assert default_collapse_depth(flat, name_separator(flat)) == 0


def test_hostile_names_are_escaped_everywhere(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker, name=HOSTILE)
    model, transforms = sklearn_pipeline(tracker, data, hostile=True)
    hostile_model = tracker.track_model(
        name=HOSTILE,
        learning_algorithm=HOSTILE,
        trained_on=data,
        framework=HOSTILE,
        hyperparameters=[Parameter.of(HOSTILE, HOSTILE, default="x")],
        environment={HOSTILE: HOSTILE},
        annotations={HOSTILE: HOSTILE},
        tags={"team": HOSTILE},
        comments=HOSTILE,
        location=HOSTILE,
        transforms=model.transforms,
    )
    tracker.track_evaluation(
        [Score(metric=HOSTILE, value=0.5)], computed_by=hostile_model, on_dataset=data, procedure=HOSTILE
    )
    tracker.flush()
    for view in ("columns", "operators"):
        page = client.get(f"/ui/models/{hostile_model.id}", params={"view": view}).text
        assert HOSTILE not in page
        assert html.escape(HOSTILE, quote=False) in page
        graph = page_data(page, "model-graph")
        assert "\\u003cscript\\u003e" in page  # tojson escapes < and > inside the script block
        texts = [value for node in graph["nodes"] for value in node.values()]
        texts += [edge.get("label") for edge in graph["edges"]]
        assert HOSTILE in texts  # the JSON carries the text as it is, for graph.js's textContent
    assert drawn(page_data(client.get(f"/ui/models/{hostile_model.id}").text, "model-graph")) == expected_column_dag(
        transforms
    )


def test_unknown_or_wrong_kind_is_a_404_page(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    tracker.flush()
    for entity_id in ("model-does-not-exist", data.id):
        answer = client.get(f"/ui/models/{entity_id}")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert entity_id in html.unescape(answer.text)


def test_model_without_transforms_or_evaluations(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    model = tracker.track_model(name="bare", learning_algorithm="KNN", trained_on=data)
    tracker.flush()
    page = client.get(f"/ui/models/{model.id}").text
    assert "No transforms recorded for this model." in page
    assert "No evaluation of this model." in page
    assert "No training run names this model." in page


def test_transforms_of_the_training_run_when_the_model_lists_none(tracker: mt.Tracker, client: TestClient) -> None:
    data = iris_data(tracker)
    _, transforms = spark_pipeline(tracker, data)
    model = tracker.track_model(name="from-run", learning_algorithm="LogisticRegression", trained_on=data)
    tracker.write(
        [
            TrainingRun(
                state=TrainingState.FINISHED,
                start_time=1,
                end_time=2,
                for_model=model.id,
                transforms=[t.id for t in transforms[1:]],  # the indexer is found through input_transforms
            )
        ]
    )
    tracker.flush()
    graph = page_data(client.get(f"/ui/models/{model.id}").text, "model-graph")
    assert drawn(graph) == expected_column_dag([*transforms[1:], transforms[0]])


def test_root_composition_and_ensemble_members(tracker: mt.Tracker, client: TestClient) -> None:
    """ColumnTransformer(...) as the root (its branches are named "num", "cat"), then a VotingClassifier's members."""
    data = iris_data(tracker)
    scale = Transform(
        name="num", operator="StandardScaler", input=columns(*IRIS[:2]), output=columns(*IRIS[:2]),
        column_lineage={name: [name] for name in IRIS[:2]},
    )  # fmt: skip
    encode = Transform(
        name="cat", operator="OneHotEncoder", input=columns("species"), output=columns("species_a", "species_b"),
        column_lineage={"species_a": ["species"], "species_b": ["species"]},
    )  # fmt: skip
    merged = [f"num__{name}" for name in IRIS[:2]] + ["cat__species_a", "cat__species_b"]
    root = Transform(
        name="columntransformer", operator="ColumnTransformer", input=columns(*IRIS[:2], "species"),
        output=columns(*merged), input_transforms=[scale.id, encode.id],
        column_lineage={"num__" + IRIS[0]: [IRIS[0]], "num__" + IRIS[1]: [IRIS[1]], "cat__species_a": ["species"],
                        "cat__species_b": ["species"]},
    )  # fmt: skip
    members = [
        Transform(name=name, operator=operator, input=columns(*merged), input_transforms=[root.id])
        for name, operator in (("vote__lr", "LogisticRegression"), ("vote__knn", "KNeighborsClassifier"))
    ]
    vote = Transform(
        name="vote", operator="VotingClassifier", input=columns(*merged), input_transforms=[m.id for m in members]
    )
    transforms = [scale, encode, root, *members, vote]
    tracker.write(transforms)
    model = tracker.track_model(
        name="vote", learning_algorithm="VotingClassifier", trained_on=data, transforms=transforms
    )
    tracker.flush()
    vertices, edges = drawn(page_data(client.get(f"/ui/models/{model.id}").text, "model-graph"))
    assert (vertices, edges) == expected_column_dag(transforms)
    assert (f"{encode.id}/species_a", f"{root.id}/cat__species_a", "ColumnTransformer") in edges
    assert {(source, target) for source, target, _ in edges if target == vote.id} == {
        (member.id, vote.id) for member in members
    }
    assert len(vertices) == 3 + 4 + 4 + 3  # model inputs, branch outputs, merged columns, the 3 learners
