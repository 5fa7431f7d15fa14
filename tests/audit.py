"""Record file, network and process activity (sys.addaudithook) while hostile input is being parsed."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

IO_EVENTS = ("open", "socket.", "urllib.", "subprocess.", "os.system", "os.exec", "http.client.")
_RECORDING: list[list[str]] = []
_HOOKED: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING and event.startswith(IO_EVENTS):
        _RECORDING[-1].append(f"{event} {args!r:.120}")


@contextlib.contextmanager
def recording_io(warm: Callable[[], object] | None = None) -> Iterator[list[str]]:
    """The I/O events seen inside the block; `warm` runs first so lazy imports are not recorded."""
    if not _HOOKED:
        sys.addaudithook(_audit)  # hooks cannot be removed; this one only records inside this context
        _HOOKED.append(True)
    if warm is not None:
        warm()
    events: list[str] = []
    _RECORDING.append(events)
    try:
        yield events
    finally:
        _RECORDING.remove(events)
