"""Every dotted ``fastscan.X.Y`` name the docs quote is a module or an attribute of one.

Names are taken from inline code spans and fenced shell blocks of README.md and docs/*.md (the
snippets of :mod:`doc_snippets`); each is imported as far as it is a module and then looked up
attribute by attribute. A renamed module or function leaves a name that no longer
resolves.
"""

from __future__ import annotations

import importlib
import re

from doc_snippets import DOCS, REPO, snippets

#: Dotted names in the docs that are not Python names (a start document's metadata key).
NOT_PYTHON = {"fastscan.signal"}


def unresolved(name: str) -> str | None:
    """Why ``name`` is no module or attribute (None if it is one)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return f"{module_name} has no {'.'.join(parts[i:])}"
            obj = getattr(obj, attr)
        return None
    return "no such module"


def dotted_names(shell: str) -> list[str]:
    """The ``fastscan.x...`` names in a snippet.

    A trailing full stop is not part of a name; a name with a one-capital part
    (``fastscan.X.Y``) is a placeholder.
    """
    names = [n.rstrip(".") for n in re.findall(r"(?<![\w/.-])fastscan(?:\.\w+)+\.?", shell)]
    return [n for n in names if not any(re.fullmatch("[A-Z]", p) for p in n.split("."))]


def test_every_dotted_name_in_the_docs_resolves():
    wrong, seen = [], 0
    for path in DOCS:
        for line, shell in snippets(path.read_text(encoding="utf-8")):
            for name in dotted_names(shell):
                seen += 1
                why = None if name in NOT_PYTHON else unresolved(name)
                if why:
                    wrong.append(f"{path.relative_to(REPO)}:{line}: {name}: {why}")
    assert seen > 100
    assert not wrong, "\n".join(wrong)


def test_a_renamed_name_is_caught():
    assert dotted_names("see `fastscan.compare.testset`.") == ["fastscan.compare.testset"]
    assert dotted_names("any `fastscan.X.Y` name") == []
    assert unresolved("fastscan.compare.imagesets.test_set") is None
    assert unresolved("fastscan.compare.testset") == "fastscan.compare has no testset"
    assert unresolved("fastscan.fly.lattice.no_such_function") == (
        "fastscan.fly.lattice has no no_such_function"
    )
