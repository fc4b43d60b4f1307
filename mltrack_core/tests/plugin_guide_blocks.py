"""The code blocks of the plugin-author guide (``mltrack_core.plugin``'s docstring), for the tests that run them."""

from __future__ import annotations

import textwrap

import mltrack_core.plugin


def guide_code_blocks() -> list[str]:
    """The guide's ``::`` code blocks, dedented, in order."""
    blocks, block, indented = [], [], False
    for line in [*(mltrack_core.plugin.__doc__ or "").splitlines(), "end"]:
        if line.endswith("::"):
            block, indented = [], True
        elif indented and (line.startswith("    ") or not line.strip()):
            block.append(line)
        elif indented:
            blocks.append(textwrap.dedent("\n".join(block)).strip() + "\n")
            indented = False
    return blocks
