"""Progress for the command line: a tqdm bar on a terminal, plain timestamped lines elsewhere.

A redirected stderr (a background training run, a CI log, `2> file`) gets no carriage returns and
no redraws: one line per `interval_s` seconds with count, share, rate and time left, and a last
line on close. Only the CLI uses it; the web app shows Streamlit progress instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LOG_INTERVAL_S = 30.0


class LineProgress:
    """The part of tqdm's interface the project uses (update, set_postfix, n, total, refresh, close)."""

    def __init__(self, *, total: int | None = None, desc: str = "", unit: str = "it", initial: int = 0,
                 file: TextIO | None = None, interval_s: float = LOG_INTERVAL_S, clock: Any = time.monotonic,
                 leave: bool = True, **_ignored: Any) -> None:
        """`leave=False` (a short per-file stage): no closing line unless it already wrote one."""
        self.total = total
        self.n = initial
        self._desc = desc
        self._unit = unit
        self._file = file if file is not None else sys.stderr
        self._interval = interval_s
        self._clock = clock
        self._start = clock()
        self._start_n = initial
        self._last = self._start
        self._postfix = ""
        self._closed = False
        self._leave = leave
        self._wrote = False
        self._written_n: int | None = None  # the count of the last line written

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._clock() - self._last >= self._interval:
            self._write()

    def set_postfix(self, **values: Any) -> None:
        self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def refresh(self) -> None:
        if self._clock() - self._last >= self._interval:
            self._write()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if (self._leave or self._wrote) and self.n != self._written_n:
                self._write()

    def _write(self) -> None:
        now = self._clock()
        self._last = now
        self._wrote = True
        self._written_n = self.n
        elapsed = now - self._start
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        parts = [f"{self._desc}: " if self._desc else "", f"{self.n}"]
        if self.total:
            parts.append(f"/{self.total} {self._unit} ({100 * self.n / self.total:.0f}%)")
        else:
            parts.append(f" {self._unit}")
        parts.append(f", {rate:.2f} {self._unit}/s, {_clock_time(elapsed)} elapsed")
        if self.total and rate > 0 and self.n < self.total:
            parts.append(f", {_clock_time((self.total - self.n) / rate)} left")
        if self._postfix:
            parts.append(f" [{self._postfix}]")
        print("".join(parts), file=self._file, flush=True)


def _clock_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar on a terminal; LineProgress when stderr is redirected."""
    if not sys.stderr.isatty():
        return LineProgress(**kwargs)
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(file=sys.stderr, mininterval=1.0, **kwargs)
