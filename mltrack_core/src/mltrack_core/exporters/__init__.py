"""Exporters of stored metadata to other formats."""
