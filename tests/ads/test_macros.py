"""Ad tag templates: both variable syntaxes, unknown variables empty, every value percent-encoded."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, strategies as st

from proxy.ads.macros import break_variables, compile_template

LIVE = "https://ads.example.com/vast?sid={{session.session_id}}&dur={{ live.adbreakdurationms }}&r={{avail.random}}"
MEDIATAILOR = "https://ads.example.com/vast?sid=[session.id]&dur=[session.avail_duration_secs]&dt=[player_params.dt]"


def values(params: dict[str, str] | None = None, duration: float = 30.0) -> dict[str, str]:
    return break_variables("abc123", duration, params or {}, 42)


def test_live_syntax() -> None:
    assert compile_template(LIVE)(values()) == "https://ads.example.com/vast?sid=abc123&dur=30000&r=42"


def test_mediatailor_syntax() -> None:
    rendered = compile_template(MEDIATAILOR)(values({"dt": "ios"}))
    assert rendered == "https://ads.example.com/vast?sid=abc123&dur=30&dt=ios"


def test_both_syntaxes_in_one_template() -> None:
    render = compile_template("http://a.example/v?x=[session.id]&y={{session.session_id}}")
    assert render(values()) == "http://a.example/v?x=abc123&y=abc123"


def test_break_variables() -> None:
    got = values({"dt": "ios"}, duration=15.5)
    assert got["session.avail_duration_secs"] == "16"  # rounded to whole seconds (MediaTailor)
    assert got["session.avail_duration_ms"] == got["live.adbreakdurationms"] == "15500"
    assert got["live.adbreakduration"] == "15.5"
    assert got["avail.random"] == got["random.int32"] == "42"
    assert got["player_params.dt"] == got["dt"] == "ios"


def test_a_viewer_parameter_cannot_override_a_session_variable() -> None:
    got = values({"session.id": "forged", "avail.random": "7"})
    assert got["session.id"] == "abc123" and got["avail.random"] == "42"
    assert got["player_params.session.id"] == "forged"


@pytest.mark.parametrize("template", ["http://a.example/v?x=[nope]&y={{nope.either}}", "http://a.example/v?x=[dt]&y="])
def test_unknown_variables_render_empty(template: str) -> None:
    assert compile_template(template)(values()) == "http://a.example/v?x=&y="


def test_text_that_is_not_a_variable_is_kept() -> None:
    template = "http://[::1]:8080/v?a=[not a var]&b={single}&c={{}}"
    assert compile_template(template)(values()) == template


@pytest.mark.parametrize("value", ["a/b", "x?y=1", "#frag", "u@evil.example", "evil.example:443", "a b&c=d", "100%"])
def test_reserved_characters_are_encoded(value: str) -> None:
    rendered = compile_template("https://ads.example.com/vast?dt=[player_params.dt]&x=1")(values({"dt": value}))
    assert rendered == f"https://ads.example.com/vast?dt={quote(value, safe='')}&x=1"
    assert parse_qs(urlsplit(rendered).query) == {"dt": [value], "x": ["1"]}


def test_lone_surrogate_does_not_raise() -> None:
    rendered = compile_template("https://a.example/v?dt=[dt]")(values({"dt": "a\ud800b"}))
    assert rendered == "https://a.example/v?dt=a%3Fb"


viewer_values = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["/", "?", "#", "@", ":", "//evil.example/", "@evil.example:8080/x?y#z", "..%2F", "\\", "%00", " "]
)


@given(viewer_values, viewer_values)
def test_values_cannot_change_scheme_host_port_or_path(first: str, second: str) -> None:
    template = "https://ads.example.com:8443/vast/tag?dt=[player_params.dt]&sid={{session.session_id}}#x=[dt]"
    rendered = compile_template(template)(break_variables(second, 30, {"dt": first}, 1))
    parts, expected = urlsplit(rendered), urlsplit(template)
    assert (parts.scheme, parts.netloc, parts.path) == (expected.scheme, expected.netloc, expected.path)
    assert (parts.hostname, parts.port) == ("ads.example.com", 8443)
    assert parse_qs(parts.query, keep_blank_values=True) == {"dt": [first], "sid": [second]}


@given(viewer_values)
def test_a_value_in_the_path_stays_one_path_segment(value: str) -> None:
    rendered = compile_template("https://ads.example.com/vast/[dt]/tag.xml?x=1")(values({"dt": value}))
    parts = urlsplit(rendered)
    assert parts.netloc == "ads.example.com" and parts.query == "x=1"
    segments = parts.path.split("/")
    assert segments[:2] == ["", "vast"] and segments[-1] == "tag.xml" and len(segments) == 4
