"""Built-in storage backends: ``memory://`` and ``sqlite://``."""
