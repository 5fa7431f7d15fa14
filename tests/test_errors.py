"""The error tree of proxy/errors.py: its docstring draws the real hierarchy, with each class's HTTP status and
skip reason; every error under ProxyError has a status; errors are told apart by type, never by message text."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import proxy
from proxy import errors
from proxy.errors import AdError, ProxyError

PROXY = Path(proxy.__file__).parent
ROW = re.compile(r"^(?P<indent>[│├└─ ]*)(?P<name>\w+)\s+(?P<status>\d{3})\s+(?P<reason>\S+)")


def drawn() -> dict[str, tuple[str | None, int, str]]:
    """Each class of the docstring's tree: (parent, status, skip reason column)."""
    assert errors.__doc__ is not None
    rows: dict[str, tuple[str | None, int, str]] = {}
    parents: list[str] = []
    for line in errors.__doc__.splitlines():
        match = ROW.match(line)
        if match is None or not (match["indent"] or match["name"] == "ProxyError"):
            continue
        depth = len(match["indent"]) // 4
        del parents[depth:]
        rows[match["name"]] = (parents[-1] if parents else None, int(match["status"]), match["reason"])
        parents.append(match["name"])
    return rows


def import_every_module() -> None:
    """Errors defined outside proxy/errors.py join the tree only once their module is imported."""
    for info in pkgutil.walk_packages([str(PROXY)], "proxy."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def real_tree() -> dict[str, tuple[str | None, type[ProxyError]]]:
    """Each class under ProxyError defined in the proxy (not a test's own subclass): (tree parent, class)."""
    import_every_module()
    found: dict[str, tuple[str | None, type[ProxyError]]] = {"ProxyError": (None, ProxyError)}
    todo = [ProxyError]
    while todo:
        parent = todo.pop()
        for child in parent.__subclasses__():
            if child.__module__.startswith("proxy.") and child.__name__ not in found:
                found[child.__name__] = (parent.__name__, child)
                todo.append(child)
    return found


def test_the_docstring_draws_the_real_tree() -> None:
    tree = real_tree()
    assert {name: parent for name, (parent, _, _) in drawn().items()} == {
        name: parent for name, (parent, _) in tree.items()
    }


def test_drawn_classes_defined_elsewhere_name_their_module() -> None:
    assert errors.__doc__ is not None
    for name, (_, cls) in real_tree().items():
        if cls.__module__ != "proxy.errors":
            assert f"{name} " in errors.__doc__ and f"{cls.__module__}:" in errors.__doc__, name


def test_every_error_has_the_status_drawn() -> None:
    tree, rows = real_tree(), drawn()
    for name, (_, cls) in tree.items():
        assert 400 <= cls.status_code <= 599, name
        assert cls.status_code == rows[name][1], name


def test_every_error_has_the_skip_reason_drawn() -> None:
    tree, rows = real_tree(), drawn()
    for name, (_, cls) in tree.items():
        reason = rows[name][2]
        if reason == "given":  # named where it is raised: an ad error's constructor takes it
            assert issubclass(cls, AdError) and cls.skip_reason is None, name
        elif reason == "-":
            assert cls.skip_reason is None, name
        else:
            assert cls.skip_reason == reason, name


def test_an_ad_error_keeps_the_reason_it_was_raised_with() -> None:
    error = AdError("NO_VARIANT_MATCH", "one muxed rendition")
    assert error.skip_reason == "NO_VARIANT_MATCH" and error.message == "NO_VARIANT_MATCH: one muxed rendition"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.OriginTimeout("slow"), "ADS_TIMEOUT"),
        (errors.FetchRefused("refused"), "EGRESS_REFUSED"),
        (errors.HttpStatusError("500", 500), "ADS_ERROR"),
        (errors.TransformTimeout("over its limit"), "TRANSFORM_FAILED"),
        (errors.NotFound("gone"), None),
    ],
)
def test_the_skip_reason_follows_the_type(error: ProxyError, reason: str | None) -> None:
    assert error.skip_reason == reason


# An error's text is for people: `"timed out" in str(error)` or `error.message.startswith(…)` would classify by it.
MESSAGE_MATCHING = re.compile(
    r"\bin\s+(?:str|repr)\((?:e|err|error|exc|exception|failed|refused)\)"
    r"|\bin\s+(?:e|err|error|exc|exception)\.(?:message|args|detail)\b"
    r"|\b(?:e|err|error|exc|exception)\.(?:message|detail)\.(?:startswith|endswith)\("
    r"|str\((?:e|err|error|exc|exception)\)\.(?:startswith|endswith)\("
)


def test_the_check_sees_message_matching() -> None:
    for line in ('if "timed out" in str(error):', 'if "x" in exc.message:', "error.message.startswith('GET')"):
        assert MESSAGE_MATCHING.search(line), line
    assert not MESSAGE_MATCHING.search('assert "x" in body')


def test_no_error_is_classified_by_its_message() -> None:
    found = [
        f"{path.relative_to(PROXY.parent)}:{number}: {line.strip()}"
        for path in sorted(PROXY.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if MESSAGE_MATCHING.search(line)
    ]
    assert found == [], "classify errors by type:\n" + "\n".join(found)
