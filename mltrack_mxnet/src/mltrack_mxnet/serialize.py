"""Checkpoints in the artifact store: one zip holding MXNet's two checkpoint files.

MXNet writes a checkpoint as ``<prefix>-symbol.json`` (the network) and
``<prefix>-0000.params`` (``arg:``/``aux:`` prefixed arrays). mltrack's
artifact store keeps each file under its content digest, so :func:`save_model`
puts the two files into one zip (with fixed timestamps, so the same network and
weights give the same artifact) whose URI becomes the model's ``location``.
:func:`load_model` reads it back.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mltrack_core.plugin import ArtifactStore, MltrackError, Model, Tracker, location_of, safe_file_name
from mltrack_mxnet.framework import require_mxnet

__all__ = ["load_model", "save_model"]

_PREFIX = "checkpoint"
_SYMBOL_FILE = f"{_PREFIX}-symbol.json"
_PARAMS_FILE = f"{_PREFIX}-0000.params"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_model(
    artifacts: ArtifactStore, name: str, symbol: Any, arg_params: Mapping[str, Any], aux_params: Mapping[str, Any]
) -> str:
    """Store the network (None for a plain Gluon Block) and its parameters as one zip; return the artifact's URI."""
    mx = require_mxnet()
    arrays = {f"arg:{key}": value.as_in_context(mx.cpu()) for key, value in arg_params.items()}
    arrays.update({f"aux:{key}": value.as_in_context(mx.cpu()) for key, value in aux_params.items()})
    with tempfile.TemporaryDirectory(prefix="mltrack-mxnet-") as folder:
        params_path = Path(folder) / _PARAMS_FILE
        mx.nd.save(str(params_path), arrays)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            files = [(_PARAMS_FILE, params_path.read_bytes())]
            if symbol is not None:  # a plain Gluon Block has no graph: its parameters only
                files.insert(0, (_SYMBOL_FILE, symbol.tojson().encode()))
            for file_name, content in files:
                archive.writestr(zipfile.ZipInfo(file_name, _ZIP_TIME), content, zipfile.ZIP_DEFLATED)
    return artifacts.put_bytes(buffer.getvalue(), safe_file_name(name, ".mxnet.zip"))


def load_model(
    model_or_location: Model | str, tracker: Tracker | None = None
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Load a model serialized by ``track_model(..., serialize=True)``.

    Args:
        model_or_location: the tracked :class:`~mltrack_core.plugin.Model`, or its ``location`` URI.
        tracker: whose artifact store reads it (default: a local one; any stored location can be read).

    Returns:
        ``(symbol, arg_params, aux_params)``, as ``mx.model.load_checkpoint`` returns them; the symbol is
        None for a plain Gluon ``Block`` (load its parameters into the network by name).

    Raises:
        MltrackError: the model has no location, or the artifact is not an mltrack MXNet checkpoint.
    """
    mx = require_mxnet()
    location = location_of(model_or_location)
    artifacts = tracker.artifacts if tracker is not None else ArtifactStore()
    with artifacts.open(location) as stored:
        content = stored.read()
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            symbol_json = archive.read(_SYMBOL_FILE).decode() if _SYMBOL_FILE in archive.namelist() else None
            params = archive.read(_PARAMS_FILE)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise MltrackError(f"{location} is not an MXNet checkpoint written by mltrack-mxnet: {exc}") from None
    arrays = mx.nd.load_frombuffer(params)
    arg_params = {key[4:]: value for key, value in arrays.items() if key.startswith("arg:")}
    aux_params = {key[4:]: value for key, value in arrays.items() if key.startswith("aux:")}
    return (mx.sym.load_json(symbol_json) if symbol_json is not None else None), arg_params, aux_params
