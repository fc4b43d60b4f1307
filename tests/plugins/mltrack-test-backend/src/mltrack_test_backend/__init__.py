"""A small third-party backend for mltrack: ``jsonlog:///path/to/log.jsonl``.

The store keeps its state in memory and appends every successful write to a
JSON-lines log, which it replays when opened again. It is what a plugin
author's package looks like (its own distribution, an entry point in the
``mltrack`` group named after its URI scheme) and it passes the core's
contract suite. One process at a time.
"""
