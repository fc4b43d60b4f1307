"""Reading OpenML API documents (XML, namespace ``oml``) into one bundle per import.

The documents stay XML elements; :mod:`mltrack_core.importers.openml` turns the
bundle into entities. A dataset's features and qualities do not name their
dataset, so they are paired with the description in the same folder.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mltrack_core.errors import SchemaError

NS = {"oml": "http://openml.org/openml"}
_FULL_NAME = re.compile(r"^(.*)\((\d+)\)$")


def parse_file(path: Path) -> ElementTree.Element:
    try:
        return parse_text(path.read_bytes(), str(path))
    except OSError as exc:
        raise SchemaError(f"cannot read {path}: {exc}") from None


def parse_text(text: str | bytes, where: str) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise SchemaError(f"{where} is not an XML document: {exc}") from None
    if not root.tag.startswith("{" + NS["oml"] + "}"):
        raise SchemaError(f"{where} is not an OpenML document (its root element is {root.tag!r})")
    return root


def text(element: ElementTree.Element, name: str) -> str | None:
    found = element.find(f"oml:{name}", NS)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def required(element: ElementTree.Element, name: str, where: str) -> str:
    value = text(element, name)
    if value is None:
        raise SchemaError(f"{where}: the OpenML document has no {name}")
    return value


def texts(element: ElementTree.Element, name: str) -> list[str]:
    return [item.text.strip() for item in element.findall(f"oml:{name}", NS) if item.text and item.text.strip()]


def value(text: str | None) -> Any:
    """An OpenML value: JSON when it is JSON (numbers, true/false, scikit-learn's JSON defaults), else the text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def array(text: str) -> list[Any]:
    """OpenML array data: JSON, or bracketed comma-separated words (``[ Oracle Corporation, 1.7.0_51 ]``)."""
    try:
        value = json.loads(text)
        if isinstance(value, list):
            return value
    except ValueError:
        pass
    return [value(item.strip()) for item in text.strip().strip("[]").split(",") if item.strip()]


def ms(text: str | None) -> int:
    """Milliseconds since 1970 of an OpenML date (UTC); 0 when the document gives none."""
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text.replace("Z", ""))
    except ValueError:
        return 0
    return int(moment.replace(tzinfo=timezone.utc).timestamp() * 1000)


def integer(text: str | None, where: str) -> int:
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(f"{where}: expected an OpenML id, got {text!r}") from None


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """``weka.J48(1)`` -> (``weka.J48``, ``1``)."""
    match = _FULL_NAME.match(full_name)
    return (match.group(1), match.group(2)) if match else (full_name, None)


@dataclass
class Feature:
    name: str
    data_type: str
    nominal_values: list[str]
    is_target: bool
    is_ignore: bool
    is_row_identifier: bool
    missing: int | None


@dataclass
class DatasetDocument:
    id: int
    element: ElementTree.Element
    path: Path
    features: list[Feature] | None = None
    qualities: dict[str, Any] | None = None


@dataclass
class FlowDocument:
    id: int
    element: ElementTree.Element
    components: list[tuple[str, int]]


@dataclass
class SetupParameter:
    flow_id: int
    flow_name: str
    name: str
    default: Any
    value: Any


@dataclass
class Measure:
    name: str
    value: str | None
    array: str | None
    repeat: int | None
    fold: int | None
    sample: int | None


@dataclass
class RunDocument:
    id: int
    element: ElementTree.Element
    measures: list[Measure]


@dataclass
class Bundle:
    """Every document of one import, by kind and OpenML id."""

    datasets: dict[int, DatasetDocument] = field(default_factory=dict)
    flows: dict[int, FlowDocument] = field(default_factory=dict)
    setups: dict[int, list[SetupParameter]] = field(default_factory=dict)
    setup_flows: dict[int, int] = field(default_factory=dict)
    tasks: dict[int, ElementTree.Element] = field(default_factory=dict)
    runs: dict[int, RunDocument] = field(default_factory=dict)
    listed: dict[int, list[dict[str, str | None]]] = field(default_factory=lambda: defaultdict(list))
    unpaired: dict[Path, list[tuple[Path, ElementTree.Element]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, path: Path, root: ElementTree.Element) -> None:
        kind = root.tag.rpartition("}")[2]
        reader = {
            "data_set_description": self._dataset,
            "data_features": self._pending_part,
            "data_qualities": self._pending_part,
            "flow": self._flow,
            "setup_parameters": self._setup,
            "task": self._task,
            "run": self._run,
            "evaluations": self._listing,
        }.get(kind)
        if reader is None:
            raise SchemaError(
                f"{path}: cannot import OpenML {kind!r} documents; expected a dataset description, features or "
                "qualities, a flow, setup, task, run or evaluation listing"
            )
        reader(path, root)

    def check_pairs(self) -> None:
        """Attach features and qualities to the description in their folder."""
        by_folder = {document.path.parent: document for document in self.datasets.values()}
        for folder, parts in self.unpaired.items():
            document = by_folder.get(folder)
            if document is None:
                names = " and ".join(sorted(path.name for path, _ in parts))
                raise SchemaError(
                    f"{folder}: {names} do not say which dataset they describe; import them together with the "
                    "dataset's description in the same folder (or import the folder)"
                )
            for _, root in parts:
                if root.tag.endswith("}data_features"):
                    document.features = [_feature(element) for element in root.findall("oml:feature", NS)]
                else:
                    document.qualities = {
                        name: value(text(element, "value"))
                        for element in root.findall("oml:quality", NS)
                        if (name := text(element, "name")) is not None and text(element, "value") is not None
                    }

    def listed_dataset_name(self, number: int) -> str | None:
        """The name an evaluation listing of this import gives dataset ``number``, if any."""
        names = sorted(
            {
                row["data_name"]
                for rows in self.listed.values()
                for row in rows
                if row.get("data_name") and row.get("data_id") == str(number)
            }
        )
        return names[0] if names else None

    def _dataset(self, path: Path, root: ElementTree.Element) -> None:
        number = integer(text(root, "id"), str(path))
        self.datasets[number] = DatasetDocument(number, root, path)

    def _pending_part(self, path: Path, root: ElementTree.Element) -> None:
        self.unpaired[path.parent].append((path, root))

    def _flow(self, path: Path, root: ElementTree.Element, *, nested: bool = False) -> int:
        number = integer(text(root, "id"), str(path))
        components = []
        for component in root.findall("oml:component", NS):
            child = component.find("oml:flow", NS)
            if child is not None:
                identifier = text(component, "identifier") or ""
                components.append((identifier, self._flow(path, child, nested=True)))
        if not nested or number not in self.flows:  # a flow's own document wins over its copy nested in another
            self.flows[number] = FlowDocument(number, root, components)
        return number

    def _setup(self, path: Path, root: ElementTree.Element) -> None:
        number = integer(text(root, "setup_id"), str(path))
        self.setup_flows[number] = integer(text(root, "flow_id"), str(path))
        self.setups[number] = [
            SetupParameter(
                flow_id=integer(text(element, "flow_id"), str(path)),
                flow_name=text(element, "flow_name") or "",
                name=required(element, "parameter_name", str(path)),
                default=value(text(element, "default_value")),
                value=value(text(element, "value")),
            )
            for element in root.findall("oml:parameter", NS)
        ]

    def _task(self, path: Path, root: ElementTree.Element) -> None:
        self.tasks[integer(text(root, "task_id"), str(path))] = root

    def _run(self, path: Path, root: ElementTree.Element) -> None:
        number = integer(text(root, "run_id"), str(path))
        measures = []
        output = root.find("oml:output_data", NS)
        for element in output.findall("oml:evaluation", NS) if output is not None else ():
            measures.append(
                Measure(
                    name=required(element, "name", str(path)),
                    value=text(element, "value"),
                    array=text(element, "array_data"),
                    repeat=optional_integer(element.get("repeat")),
                    fold=optional_integer(element.get("fold")),
                    sample=optional_integer(element.get("sample")),
                )
            )
        self.runs[number] = RunDocument(number, root, measures)

    def _listing(self, path: Path, root: ElementTree.Element) -> None:
        for element in root.findall("oml:evaluation", NS):
            row = {child.tag.rpartition("}")[2]: (child.text or "").strip() or None for child in element}
            self.listed[integer(row.get("run_id"), str(path))].append(row)


def optional_integer(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def _feature(element: ElementTree.Element) -> Feature:
    missing = text(element, "number_of_missing_values")
    return Feature(
        name=required(element, "name", "features.xml"),
        data_type=text(element, "data_type") or "",
        nominal_values=texts(element, "nominal_value"),
        is_target=text(element, "is_target") == "true",
        is_ignore=text(element, "is_ignore") == "true",
        is_row_identifier=text(element, "is_row_identifier") == "true",
        missing=int(missing) if missing is not None else None,
    )
