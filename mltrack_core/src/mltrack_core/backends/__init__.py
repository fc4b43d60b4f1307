"""Built-in storage backends: ``memory://``, ``sqlite://`` and ``postgresql://``."""
