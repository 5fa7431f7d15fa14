"""Ad tag URL templates: a small subset until issue #3 brings the full variable tables.

Both the Live syntax (`{{session.session_id}}`, `{{live.adbreakdurationms}}`) and MediaTailor's
(`[session.id]`, `[session.avail_duration_secs]`, `[player_params.x]`) are understood; every value is
percent-encoded so a viewer's parameter can never change the URL's scheme, host or path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}|\[([A-Za-z0-9_.]+)\]")


def compile_template(template: str) -> Callable[[Mapping[str, str]], str]:
    pieces: list[str | tuple[str]] = []
    at = 0
    for match in _VARIABLE.finditer(template):
        pieces.append(template[at : match.start()])
        pieces.append((match.group(1) or match.group(2),))
        at = match.end()
    pieces.append(template[at:])

    def render(values: Mapping[str, str]) -> str:
        # errors="replace": a lone surrogate (not valid UTF-8) renders as "?" rather than raising.
        return "".join(
            p if isinstance(p, str) else quote(values.get(p[0], ""), safe="", errors="replace") for p in pieces
        )

    return render


def break_variables(session_id: str, duration: float, params: Mapping[str, str], random: int) -> dict[str, str]:
    values = {
        "session.id": session_id,
        "session.session_id": session_id,
        "session.avail_duration_secs": str(round(duration)),
        "session.avail_duration_ms": str(round(duration * 1000)),
        "live.adbreakdurationms": str(round(duration * 1000)),
        "live.adbreakduration": f"{duration:g}",
        "avail.random": str(random),
        "random.int32": str(random),
    }
    for key, value in params.items():
        values[f"player_params.{key}"] = value
        values.setdefault(key, value)
    return values
