"""Tag names are spelled once, in proxy/hls/tags.py: every constant there is a tag, and no other module under
proxy/ writes a `#EXT` literal (docstrings, which describe playlists, excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

from proxy.hls import tags

PROXY = Path(__file__).parents[2] / "proxy"
MARKER = "#EXT"


def tag_constants() -> dict[str, object]:
    return {name: value for name, value in vars(tags).items() if name.isupper()}


def test_every_constant_is_a_tag_name() -> None:
    constants = tag_constants()
    assert len(constants) >= 40
    for name, value in constants.items():
        assert isinstance(value, str) and value.startswith(MARKER), name
        assert ":" not in value, f"{name}: callers append the ':' before a value"


def test_names_follow_the_tag() -> None:
    for name, value in tag_constants().items():
        if name.endswith("_PREFIX"):
            continue
        assert isinstance(value, str)
        assert name == value.removeprefix("#").replace("-", "_"), name


def test_every_tag_is_spelled_once() -> None:
    values = list(tag_constants().values())
    assert len(values) == len(set(values))


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the constant nodes that are module, class or function docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spells_a_tag(value: object) -> bool:
    if isinstance(value, str):
        return MARKER in value
    return isinstance(value, bytes) and MARKER.encode() in value


def tag_literals(source: str) -> list[tuple[int, object]]:
    """(line, value) of each string or bytes literal, f-string parts included, that spells a tag."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and id(node) not in skip and spells_a_tag(node.value)
    ]


def test_the_check_sees_a_literal() -> None:
    source = '"""Docs may say #EXTINF."""\nLINE = f"#EXTINF:{1},"\nMAGIC = b"#EXTM3U"\nNAME = f"{1}#EXT-X-KEY"\n'
    assert sorted(tag_literals(source)) == [(2, "#EXTINF:"), (3, b"#EXTM3U"), (4, "#EXT-X-KEY")]


def test_no_module_but_tags_spells_a_tag() -> None:
    modules = [path for path in sorted(PROXY.rglob("*.py")) if path != PROXY / "hls" / "tags.py"]
    assert len(modules) > 50
    found = [
        f"{path.relative_to(PROXY.parent)}:{line}: {value!r}"
        for path in modules
        for line, value in tag_literals(path.read_text())
    ]
    assert found == [], "spell tags with proxy.hls.tags:\n" + "\n".join(found)
