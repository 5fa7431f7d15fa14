"""bench/rounds.py: the sides' rounds interleave, the figures are medians with their spread, and a busy or
noisy machine makes the result say it is not to be trusted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.rounds import MAX_OTHER_CPU_SHARE, compare, interleaved

QUIET = {"cores": 2, "load_average_before": 0.3, "load_average_after": 2.1, "steal_share": 0.0, "other_cpu_share": 0.02}


def test_rounds_alternate_the_order_of_the_sides() -> None:
    calls: list[str] = []

    def side(name: str, rate: float) -> Callable[[], float]:
        def measure() -> float:
            calls.append(name)
            return rate

        return measure

    runs = interleaved({"a": side("a", 10.0), "b": side("b", 5.0)}, 4)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert runs == {"a": [10.0] * 4, "b": [5.0] * 4}


def test_the_ratio_is_of_the_medians_with_the_spread_of_the_rounds() -> None:
    runs = {"stitched": [100.0, 90.0, 110.0, 1000.0], "baseline": [100.0, 100.0, 100.0, 100.0]}
    result: dict[str, Any] = compare(runs, "stitched", "baseline", dict(QUIET))
    assert result["ratio"] == 1.05  # one wild round moves the median little, the best-of-rounds by 10x
    assert (result["sides"]["stitched"]["min"], result["sides"]["stitched"]["max"]) == (90, 1000)
    assert result["ratio_per_round"]["max"] == 10.0
    assert result["trustworthy"] is False  # that round makes the per-round ratios spread far over 10 %


def test_a_quiet_machine_and_steady_rounds_are_trusted() -> None:
    runs = {"stitched": [100.0, 101.0, 99.0, 100.0], "baseline": [50.0, 50.5, 49.5, 50.0]}
    result = compare(runs, "stitched", "baseline", dict(QUIET))
    assert (result["ratio"], result["trustworthy"], result["warnings"]) == (2.0, True, [])


def test_a_loaded_machine_is_named_in_the_warnings() -> None:
    runs = {"stitched": [100.0] * 4, "baseline": [50.0] * 4}
    busy = QUIET | {"load_average_before": 5.4, "steal_share": 0.08, "other_cpu_share": MAX_OTHER_CPU_SHARE + 0.5}
    result = compare(runs, "stitched", "baseline", busy)
    warnings = result["warnings"]
    assert result["trustworthy"] is False and isinstance(warnings, list) and len(warnings) == 3
    assert warnings[0].startswith("load average 5.4 before the run: expected at most 2")
    assert warnings[1] == "CPU steal 8.0%: expected at most 5%"
    assert warnings[2].startswith("other processes used 60.0% of the CPU")
