"""The README and docs/ hold together: every relative link and #anchor resolves, and the student release's README
links nothing the release does not ship. (Every `python -m` entry point they name answers --help:
tests/test_command_lines.py.)"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings: lowercase, punctuation dropped, spaces as hyphens, a repeated
    heading numbered."""
    found: set[str] = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not (heading := re.match(r"^#{1,6} (.+)$", line)):
            continue
        anchor = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        candidate, n = anchor, 0
        while candidate in found:
            n += 1
            candidate = f"{anchor}-{n}"
        found.add(candidate)
    return found


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [target for target in LINK.findall(text) if not re.match(r"^[a-z]+:", target)]


def test_every_page_is_linked_from_the_readme() -> None:
    linked = {(REPO / target.partition("#")[0]).resolve() for target in relative_links(REPO / "README.md")}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{target}: no heading with that anchor in {file.name}")
    assert broken == [], f"{page.name}: " + "; ".join(broken)


def test_the_readme_stays_a_front_door() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 130, "README.md is meant to stay short: move detail to docs/"


def test_the_student_readme_links_only_what_the_release_ships(release: Path) -> None:
    readme = release / "README.md"
    missing = [t for t in relative_links(readme) if not (release / t.partition("#")[0]).exists()]
    assert missing == [], f"the student README links what the release lacks: {missing}"
