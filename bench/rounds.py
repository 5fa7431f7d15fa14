"""Interleaved rounds of two sides of a benchmark, their spread, and whether the machine was quiet enough for the
figure to mean anything.

One long run per side measures the machine as much as the code: a neighbour that starts halfway through the
second side's run moves the ratio, and nothing in the result says so. Several short rounds, alternating the
sides (A B, B A, A B… so a steady drift weighs on both alike), give each side a median and a spread; the
ratio of the medians is reported with the spread of the per-pair ratios. The machine's state is measured
alongside: the load average before and after, the CPU share stolen by the hypervisor, and the CPU share used
by processes other than the server and the load generator during the rounds (/proc/stat, proc(5)).
"""

from __future__ import annotations

import os
import resource
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# A ratio is reported to two decimals: when the middle half of the per-pair ratios spans more than a tenth of
# their median, the second decimal (and often the first) is noise.
MAX_RELATIVE_IQR = 0.10
# Hypervisor steal of more than 5 % of the machine's CPU: the cores the benchmark pinned were not all its own.
MAX_STEAL_SHARE = 0.05
# Other processes using more than a tenth of the machine: with the server pinned to one core and the load
# generator to the other, that is at least a fifth of one of them taken, at times, from the measured sides.
MAX_OTHER_CPU_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """The machine's aggregate CPU times, in clock ticks (the `cpu` line of /proc/stat)."""

    busy: int
    steal: int
    total: int

    @classmethod
    def now(cls) -> CpuTimes:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields  # guest time is counted in user already
        return cls(user + nice + system + irq + softirq, steal, sum(fields))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (proc(5) /proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk runs: each is waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max, quartiles and the interquartile range relative to the median."""
    ordered = sorted(values)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else ordered * 3
    median = statistics.median(ordered)
    return {
        "median": median,
        "min": ordered[0],
        "max": ordered[-1],
        "q1": q1,
        "q3": q3,
        "relative_iqr": (q3 - q1) / median if median else 0.0,
    }


def interleaved(sides: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """`rounds` measures of each side, alternating the order of the sides from one round to the next."""
    names = list(sides)
    found: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            found[name].append(sides[name]())
    return found


class MachineWatch:
    """The machine's state over a benchmark: load average before and after, steal, and the CPU share used by
    anything but the benchmark's own processes (`own_pids`, and this process's children such as wrk)."""

    def __init__(self, own_pids: Sequence[int]) -> None:
        self.own_pids = list(own_pids)
        self.cores = os.cpu_count() or 1
        self.load_before = os.getloadavg()[0]
        self._cpu = CpuTimes.now()
        self._own = self._own_seconds()

    def _own_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.own_pids) + children_cpu_seconds()

    def report(self) -> dict[str, float | int]:
        cpu, own = CpuTimes.now(), self._own_seconds()
        ticks = max(1, cpu.total - self._cpu.total)
        own_ticks = (own - self._own) * os.sysconf("SC_CLK_TCK")
        return {
            "cores": self.cores,
            "load_average_before": round(self.load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "steal_share": round((cpu.steal - self._cpu.steal) / ticks, 4),
            "other_cpu_share": round(max(0.0, (cpu.busy - self._cpu.busy - own_ticks) / ticks), 4),
        }


def warnings(machine: Mapping[str, float | int], ratio_relative_iqr: float) -> list[str]:
    """Why the figure should not be trusted; empty when nothing says so."""
    found = []
    if machine["load_average_before"] > machine["cores"]:
        found.append(
            f"load average {machine['load_average_before']} before the run: expected at most {machine['cores']} "
            "(the cores): other processes were already waiting for CPU"
        )
    if machine["steal_share"] > MAX_STEAL_SHARE:
        found.append(f"CPU steal {machine['steal_share']:.1%}: expected at most {MAX_STEAL_SHARE:.0%}")
    if machine["other_cpu_share"] > MAX_OTHER_CPU_SHARE:
        found.append(
            f"other processes used {machine['other_cpu_share']:.1%} of the CPU during the rounds: "
            f"expected at most {MAX_OTHER_CPU_SHARE:.0%}"
        )
    if ratio_relative_iqr > MAX_RELATIVE_IQR:
        found.append(
            f"the per-round ratios' interquartile range is {ratio_relative_iqr:.1%} of their median: "
            f"expected at most {MAX_RELATIVE_IQR:.0%}"
        )
    return found


def compare(
    runs: Mapping[str, list[float]], numerator: str, denominator: str, machine: dict[str, float | int]
) -> dict[str, object]:
    """Each side's spread, the ratio of the medians with the spread of the per-round ratios, the machine, and
    the verdict (`trustworthy`, `warnings`)."""
    sides = {name: _rounded(spread(values)) | {"rounds": [round(v) for v in values]} for name, values in runs.items()}
    pairs = [a / b for a, b in zip(runs[numerator], runs[denominator], strict=True)]
    per_round = spread(pairs)
    ratio = statistics.median(runs[numerator]) / statistics.median(runs[denominator])
    found = warnings(machine, per_round["relative_iqr"])
    return {
        "ratio": round(ratio, 3),
        "ratio_per_round": {key: round(value, 3) for key, value in per_round.items()},
        "sides": sides,
        "machine": machine,
        "trustworthy": not found,
        "warnings": found,
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) if key == "relative_iqr" else round(value) for key, value in values.items()}
