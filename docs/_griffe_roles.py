"""griffe extension: Sphinx roles in winit's docstrings (``:class:`Plan```) become mkdocs autorefs.

Attributes documented by a ``#:`` comment above them get that comment as their docstring.

The docstrings are read as Markdown, where a role would print as ``:class:`` text. Each role's target
is resolved in the docstring's own scope: a target that resolves becomes an optional link (a link when
the object is on the site, plain code when it is private), one that does not resolve stays a required
link, so ``mkdocs build --strict`` fails on a role naming something that no longer exists.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):`(?P<tilde>~?)\.?(?P<target>[\w.]+)(?:\(\))?`")


def _resolve(obj: griffe.Object, target: str, collection: Any) -> str | None:
    """``target``'s full path seen from ``obj`` (its scope, then absolute), or None."""
    head, _, rest = target.partition(".")
    try:
        base = obj.resolve(head)
    except griffe.NameResolutionError:
        base = head
    path = f"{base}.{rest}" if rest else base
    try:
        found = collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return str(found.path)


def _comment_docstring(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above an attribute (Sphinx's convention, used across winit), or None."""
    if obj.lineno is None:
        return None
    lines = obj.module.lines
    found: list[str] = []
    index = obj.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        found.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(found) or None


class SphinxRoles(griffe.Extension):
    """Rewrite roles once the whole package is loaded, so every name can be resolved."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            stack.extend(member for member in obj.members.values() if isinstance(member, griffe.Object))
            if obj.docstring is None and obj.is_attribute and (comment := _comment_docstring(obj)):
                obj.docstring = griffe.Docstring(comment, parent=obj)
            if obj.docstring is None:
                continue

            def link(match: re.Match[str], obj: griffe.Object = obj) -> str:
                target = match["target"]
                shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
                path = _resolve(obj, target, loader.modules_collection)
                if path is None:  # unresolvable: a required link, which --strict reports
                    return f"[`{shown}`][{target}]"
                return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

            obj.docstring.value = ROLE.sub(link, obj.docstring.value)
