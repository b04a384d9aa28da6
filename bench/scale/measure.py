"""What the scale bench reads off the controller: its log lines, its /proc entries, the machine's load."""

from __future__ import annotations

import itertools
import json
import os
import pathlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
ADVANCE = "canary iteration "


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (`/proc/PID/stat` fields 14 and 15)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def rss_megabytes(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@dataclass
class Ticks:
    """The analysis ticks in a window: per canary, the times of its "Advance ... iteration" lines."""

    times: dict[str, list[float]]

    @classmethod
    def from_log_lines(cls, lines: Iterable[str], start: float, end: float) -> Ticks:
        times: dict[str, list[float]] = defaultdict(list)
        for line in lines:
            if ADVANCE not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            stamp = _seconds(record.get("ts"))
            if start <= stamp <= end and str(record.get("msg", "")).startswith("Advance "):
                times[str(record.get("canary"))].append(stamp)
        return cls(dict(times))

    @property
    def count(self) -> int:
        return sum(len(stamps) for stamps in self.times.values())

    def spacings(self) -> list[float]:
        return [
            later - earlier for stamps in self.times.values() for earlier, later in itertools.pairwise(stamps)
        ]

    def lateness(self, interval: float) -> list[float]:
        """Time between two ticks of one canary minus the interval (negative: early)."""
        return [spacing - interval for spacing in self.spacings()]


def _seconds(stamp: object) -> float:
    """zap's `ts`: seconds since the epoch (epoch encoder) or ISO 8601 (`-zap-time-encoding=iso8601`)."""
    if isinstance(stamp, int | float):
        return float(stamp)
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class LogTail:
    """The lines a log file gains from now on, read incrementally (polling a long log costs only what was
    appended since the last poll)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.offset = path.stat().st_size
        self.partial = b""

    def new_lines(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines]
