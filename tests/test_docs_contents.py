"""README's contents list matches its sections, and every Markdown link to a section resolves.

Anchors follow GitHub's rule: the heading's text lower-cased, every character that is not a
letter, digit, space, ``-`` or ``_`` dropped, spaces turned into ``-``; a repeated heading gets
``-1``, ``-2``, ... Headings inside fenced code blocks are not headings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of each Markdown heading outside fenced code blocks."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"(#{1,6}) +(.*?) *#*$", line)
        if match and not fenced:
            found.append((len(match.group(1)), match.group(2)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor of a heading (without the suffix of a repeated one)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor the headings of ``text`` define."""
    seen: dict[str, int] = {}
    out = set()
    for _, heading in headings(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def contents_list(text: str) -> list[tuple[str, str]]:
    """(title, anchor) of each item of the ``## Contents`` list."""
    block = text.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \[(.+)\]\(#([^)]+)\)$", block, flags=re.M)


def test_slug_follows_githubs_rule():
    heading = "Quick start (fresh machine, Python >= 3.10)"
    assert slug(heading) == "quick-start-fresh-machine-python--310"
    assert slug("Replaying a scan: `fastscan simulate`") == "replaying-a-scan-fastscan-simulate"
    assert slug("Rows or columns (issue 10, `fly_axis`)") == "rows-or-columns-issue-10-fly_axis"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_readme_contents_list_is_its_sections_in_order():
    text = README.read_text(encoding="utf-8")
    sections = [h for level, h in headings(text) if level == 2 and h != "Contents"]
    listed = contents_list(text)
    assert [title for title, _ in listed] == sections
    assert [anchor for _, anchor in listed] == [slug(h) for h in sections]


def test_a_section_missing_from_the_contents_list_is_caught():
    text = "# T\n\n## Contents\n\n- [One](#one)\n\n## One\n\n## Two\n"
    sections = [h for level, h in headings(text) if level == 2 and h != "Contents"]
    assert [title for title, _ in contents_list(text)] != sections


def _links(path: Path) -> list[tuple[str, str, str]]:
    """(where, target file, anchor) of each link to a section in ``path``."""
    name = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    found, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", line):
            found.append((f"{name}:{number}", target, anchor))
    return found


def broken_links(path: Path) -> list[str]:
    """The links to a section in ``path`` whose file or section does not exist."""
    wrong = []
    for where, target, anchor in _links(path):
        file = (path.parent / target).resolve() if target else path
        if not file.is_file():
            wrong.append(f"{where}: no file {target}")
        elif anchor not in anchors(file.read_text(encoding="utf-8")):
            wrong.append(f"{where}: {target or path.name} has no section #{anchor}")
    return wrong


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_link_to_a_section_resolves(path):
    assert not broken_links(path), "\n".join(broken_links(path))


def test_the_readme_links_were_all_seen():
    assert len(_links(README)) > 40  # the contents list and the links into docs/


def test_a_link_to_a_renamed_section_is_caught(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\n\n## New name (issue 1)\n", encoding="utf-8")
    doc = tmp_path / "a.md"
    doc.write_text("See [it](notes.md#old-name-issue-1) and [this](notes.md#new-name-issue-1).\n")
    doc.write_text(doc.read_text() + "[Gone](missing.md#x)\n", encoding="utf-8")
    assert broken_links(doc) == ["a.md:1: notes.md has no section #old-name-issue-1",
                                 "a.md:2: no file missing.md"]  # fmt: skip
