"""Fitted models in the artifact store: saved by Spark's own writer, zipped, and loaded back with their class.

``track_model(..., serialize=True)`` calls :func:`save_model`; :func:`load_model`
reads the model back from its ``location``. Saving goes through a folder on
this machine, so it needs a local master.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import ArtifactStore, Model, SchemaError, location_of, mltrack_home, safe_file_name

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = ["load_model", "save_model"]


def save_model(obj: Any, tracker: Tracker, name: str | None) -> str:
    """Save a fitted model with Spark's own writer and store the folder, zipped, in the tracker's artifact store.

    Args:
        obj: the fitted model (any ``MLWritable``).
        tracker: the tracker whose artifact store keeps the archive.
        name: the model's name, for the archive's file name (default: the class name).

    Returns:
        The archive's location in the artifact store (the model's ``location``).

    Raises:
        SchemaError: Spark cannot save ``obj``, or the master is not local.
    """
    from pyspark import SparkContext
    from pyspark.ml.util import MLWritable

    if not isinstance(obj, MLWritable):
        raise SchemaError(
            f"{type(obj).__name__} cannot be saved by Spark (it is not MLWritable); track it with serialize=False"
        )
    context = SparkContext._active_spark_context
    if context is None or not context.master.startswith("local"):
        raise SchemaError(
            "serialize=True saves the model through a folder on this machine, which executors of a cluster "
            f"(master {context.master if context else None!r}) cannot write: save it where the cluster can "
            "(model.write().save(uri)) and pass location=uri instead"
        )
    with tempfile.TemporaryDirectory(prefix="mltrack-spark-") as folder:
        saved = Path(folder) / "model"
        obj.write().save(saved.as_uri())
        archive = Path(folder) / "model.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
            for path in sorted(saved.rglob("*")):
                if path.is_file() and not path.name.startswith("."):  # leave Hadoop's .crc files out
                    packed.write(path, path.relative_to(saved).as_posix())
        return tracker.artifacts.put_file(archive, safe_file_name(name or type(obj).__name__, ".spark.zip"))


def load_model(model_or_location: Model | str, tracker: Tracker | None = None) -> Any:
    """Load a model that ``track_model(..., serialize=True)`` stored.

    The archive is unpacked once into ``$MLTRACK_HOME/spark-models`` (Spark reads
    some models' data lazily from there) and loaded with the class Spark saved it as.

    Args:
        model_or_location: the tracked :class:`~mltrack_core.plugin.Model`, or its ``location`` URI.
        tracker: whose artifact store reads it (default: a local one; any stored location can be read).

    Returns:
        The fitted Spark model, of the class it was saved as.

    Raises:
        SchemaError: ``location`` holds no model saved by Spark.
    """
    location = location_of(model_or_location)
    artifacts = tracker.artifacts if tracker is not None else ArtifactStore()
    folder = mltrack_home() / "spark-models" / hashlib.sha256(location.encode()).hexdigest()[:24]
    if not (folder / "metadata").is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))
        with artifacts.open(location) as data, zipfile.ZipFile(data) as packed:
            packed.extractall(unpacked)
        if folder.exists():  # another process unpacked it meanwhile
            shutil.rmtree(unpacked)
        else:
            unpacked.rename(folder)
    parts = sorted((folder / "metadata").glob("part-*"))
    if not parts:
        raise SchemaError(f"{location} holds no Spark ML model (no metadata/part-* file in it)")
    saved_class = json.loads(parts[0].read_text().splitlines()[0])["class"]
    module_name, _, class_name = saved_class.replace("org.apache.spark", "pyspark").rpartition(".")
    model_class = getattr(importlib.import_module(module_name), class_name)
    return model_class.load(folder.as_uri())
