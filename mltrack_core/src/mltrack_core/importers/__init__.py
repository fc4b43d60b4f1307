"""Importers: bring experiment metadata made elsewhere into a store.

* :func:`import_openml`: OpenML API documents (files, folders, or ``KIND/ID``
  fetched live with the ``openml`` extra), see :mod:`mltrack_core.importers.openml`;
* :func:`import_mlflow`: an MLflow tracking store (``mlruns/`` folder,
  database or server, read with the ``mlflow`` extra), see
  :mod:`mltrack_core.importers.mlflow`;
* :func:`import_ml_experiments_schema`: documents of the paper's published
  schema, including ``mltrack export`` output, losslessly, see
  :mod:`mltrack_core.importers.ml_experiments_schema`.

They write imported entities exactly as they are (ids, creation times and
creators are kept, nothing of the importing machine is added), in one
transaction (MLflow: one per batch of runs); importing the same documents
again creates nothing new. The command line offers them as ``mltrack import
openml``, ``mltrack import mlflow`` and ``mltrack import ml-experiments-schema``.
"""

from mltrack_core.importers._writing import ImportSummary
from mltrack_core.importers.ml_experiments_schema import import_directory as import_ml_experiments_schema
from mltrack_core.importers.mlflow import import_mlflow
from mltrack_core.importers.openml import OpenMLUnavailableError, import_openml

__all__ = ["ImportSummary", "OpenMLUnavailableError", "import_ml_experiments_schema", "import_mlflow", "import_openml"]
