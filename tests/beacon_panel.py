"""The demo player page's beacon panel (proxy/demo/static/): this session's beacons as the proxy's event log has
them (`…/tracking/{channel}/{session}/events`), read from the page by the browser tests."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from playwright.sync_api import Page

PANEL_DEADLINE = 60.0  # seconds for the panel to show what is awaited (it polls every target duration)
SAMPLE_EVERY_MS = 500
PANEL_JS = """() => ({
    beacons: demo.beacons,
    status: document.getElementById("status-beacons").textContent,
    rows: Array.from(document.querySelectorAll("#beacons-rows tr"), tr => Array.from(tr.cells, td => td.textContent)),
})"""


def fired_shown(panel: dict[str, Any]) -> set[str]:
    """The events of the panel's rows whose beacon the proxy fired (cells: time, event, ad, break, outcome)."""
    return {row[1] for row in panel["rows"] if row[4] == "fired"}


def beacon_panel(page: Page, events: tuple[str, ...] = ("impression",)) -> dict[str, Any]:
    """The panel once it shows each of `events` fired, or as it is when the deadline passes."""
    deadline = time.monotonic() + PANEL_DEADLINE
    while True:
        panel: dict[str, Any] = page.evaluate(PANEL_JS)
        if fired_shown(panel) >= set(events) or time.monotonic() > deadline:
            return panel
        page.wait_for_timeout(SAMPLE_EVERY_MS)


def check_beacon_panel(panel: dict[str, Any], proxy: str, channel: str, session_id: str) -> None:
    """The panel lists this session's beacons as the proxy's event log has them: one row each, newest first."""
    rows = [tuple(row[1:]) for row in panel["rows"]]  # event, ad, break, outcome (the time is the browser's)
    shown = [(e["event"], e["adId"], e["break"], e["outcome"]) for e in reversed(panel["beacons"]["events"])]
    assert rows == shown and panel["status"].startswith("fired by the proxy"), panel
    with urllib.request.urlopen(f"{proxy}/v1/ssai/tracking/{channel}/{session_id}/events", timeout=10) as response:
        log = json.load(response)
    logged = [(e["event"], e["adId"], e["break"]) for e in log["events"]]
    # The proxy's log as the page last read it, then what was queued since; `gone`: its oldest dropped since.
    gone = log["dropped"] - panel["beacons"]["dropped"]
    page_rows = [row[:3] for row in reversed(rows)]
    assert gone >= 0 and page_rows[gone:] == logged[: len(page_rows) - gone], (rows, logged, gone)
