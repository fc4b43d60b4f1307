"""``python -m mltrack_core.server``: the same as ``mltrack server``."""

from mltrack_core.server.cli import server

if __name__ == "__main__":
    server(prog_name="python -m mltrack_core.server")
