"""Built-in storage backends: ``memory://``, ``sqlite://``, ``postgresql://`` and the REST client (``http(s)://``)."""
