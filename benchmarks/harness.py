"""Shared by the benchmark runners: timing, tables, JSON.

Every figure is a ratio against a peer measured in the same process on the same
inputs, after warm-up, as the median of many runs.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def median_seconds(run: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate(runs: dict[str, Callable[[], None]], repeats: int, rounds: int = 3,
              spread: dict[str, float] | None = None) -> dict[str, float]:
    """Median seconds of each run, timed in blocks that alternate between the
    contenders so that drift in the machine's speed hits both alike. With
    `spread`, also the relative spread (max/min - 1) of each run's block medians."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(median_seconds(run, repeats))
    if spread is not None:
        spread.update({name: max(v) / min(v) - 1 for name, v in samples.items()})
    return {name: statistics.median(values) for name, values in samples.items()}


def interleaved_times(runs: dict[str, Callable[[], None]], rounds: int, timed: int = 4,
                      untimed: int = 2) -> dict[str, list[float]]:
    """Seconds of `rounds` x `timed` runs of each: every round gives each
    contender a turn of `untimed` runs and then `timed` timed ones. Short
    turns, many rounds: on shared VMs the machine's speed moves in steps
    lasting seconds (on 2 vCPUs, two-thread products ran 1.6x slower for
    seconds at a time while one-thread ones did not), and with 5 long blocks
    a contender whose median block fell in a slow stretch lost up to 1.6x.
    Not single runs either: on a 16-core host a step of mpsnn that came one
    untimed step after torch's ran 10-20% slower than in a row (a 50 ms
    sleep between did not help; two untimed and four timed came within the
    noise). Every other round runs the contenders in reverse order. With
    `timed` = `untimed` = 1 and two variants of the same code, this times
    their cost against each other in adjacent pairs, which drift between
    turns (spreads of up to 400% on shared hosts) would swamp; the untimed run
    matters there too: right after the other variant a run was up to 15%
    slower on a 16-core host (caches holding the other's data), which made
    pair ratios bimodal."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in (names if i % 2 == 0 else names[::-1]):
            for _ in range(untimed):
                runs[name]()
            for _ in range(timed):
                start = time.perf_counter()
                runs[name]()
                times[name].append(time.perf_counter() - start)
    return times


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """columns: (key, heading, format)."""
    cells = [[heading for _, heading, _ in columns]]
    for row in rows:
        cells.append([format(row[key], fmt) for key, _, fmt in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict:
    return {"machine": platform.machine(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "python": platform.python_version()}


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    return path
