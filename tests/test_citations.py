"""Comments cite what a reader of the repository can open: a public spec section (RFC 8216bis, ANSI/SCTE 35,
IAB VAST/VMAP, ...) or the fact itself, never a working document kept outside the repository.

Files under tests/data may name the public sources their data came from; they are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
CHECKED = ("proxy", "bench", "tests")
EXCLUDED = (ROOT / "tests" / "data",)
# Documents that exist only beside the repository (written so this file does not match itself).
OUTSIDE = re.compile(r"ARCHITECTURE\.md|\breference/[\w.-]+\.md|\bseeds[/]")


def checked_files() -> list[Path]:
    files = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not any(path.is_relative_to(x) for x in EXCLUDED):
                files.append(path)
    return files


def outside_citations(path: Path) -> list[str]:
    """`path:line: text` for each line of the file that cites a document kept outside the repository."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    name = path.relative_to(ROOT)
    return [f"{name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    files = checked_files()
    assert len(files) > 100, "the walk found too few files: ROOT is wrong"
    found = [hit for path in files for hit in outside_citations(path)]
    assert not found, "cite the public spec or state the fact instead:\n" + "\n".join(found)


def test_the_pattern_catches_each_kind_of_outside_document() -> None:
    # Built from pieces, so this file does not cite them itself.
    for line in ("ARCHITECTURE" + ".md §3", "reference/" + "markers.md §1", "reference/" + "anchors-mission.md"):
        assert OUTSIDE.search(line), line
    assert OUTSIDE.search("seeds" + "/002.txt")
    for line in ("RFC 8216bis §6.2.1", "tests/data/samples/ads/SOURCES.md", "random seed", "README.md"):
        assert not OUTSIDE.search(line), line
