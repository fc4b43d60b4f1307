"""The dashboard's pages: one module per page (or two closely related pages), each with its ``router``."""
