"""A griffe extension (mkdocs.yml): an attribute's ``#:`` comment lines are its docstring.

The code documents attributes and dataclass fields with ``#:`` comments above them (the
Sphinx convention); griffe reads only string literals, so without this the reference would
show those attributes undocumented.
"""

from __future__ import annotations

from typing import Any

import griffe


class CommentDocstrings(griffe.Extension):
    def on_attribute_instance(self, *, attr: griffe.Attribute, **_: Any) -> None:
        if attr.docstring is not None or attr.lineno is None:
            return
        lines = attr.module.lines  # the module's source, 1-based lineno
        found: list[str] = []
        index = attr.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            found.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        if found:
            attr.docstring = griffe.Docstring(
                " ".join(found), lineno=index + 2, endlineno=attr.lineno - 1, parent=attr
            )
