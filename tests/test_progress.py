"""Command-line progress when stderr is not a terminal: plain lines, never carriage returns."""

from __future__ import annotations

import io

import pytest

from qa_app.progress import LineProgress, progress_bar


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_every_interval_with_rate_and_time_left_and_a_last_line_on_close() -> None:
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(total=100, desc="transformer gold", unit="q", file=out, interval_s=30, clock=clock)
    for _ in range(10):
        clock.now += 1
        bar.update(1)
    assert out.getvalue() == ""  # nothing before the first interval
    clock.now = 40
    bar.set_postfix(loss="1.23")
    bar.update(10)
    clock.now = 50
    bar.update(80)  # 10 s later: no line yet
    bar.close()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 2
    assert lines[0] == "transformer gold: 20/100 q (20%), 0.50 q/s, 0:40 elapsed, 2:40 left [loss=1.23]"
    assert lines[1].startswith("transformer gold: 100/100 q (100%), 2.00 q/s, 0:50 elapsed")


def test_closing_right_after_a_line_does_not_repeat_it() -> None:
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(total=4, desc="a.pdf embed", file=out, interval_s=30, clock=clock, leave=False)
    clock.now = 31
    bar.n = 4
    bar.refresh()
    bar.close()
    assert len(out.getvalue().splitlines()) == 1


def test_short_stages_that_do_not_leave_a_bar_stay_silent() -> None:
    out = io.StringIO()
    bar = LineProgress(total=3, desc="a.pdf parse", file=out, leave=False, clock=Clock())
    bar.n = 3
    bar.refresh()
    bar.close()
    assert out.getvalue() == ""


def test_redirected_stderr_gets_line_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(progress_bar(total=5, desc="x"), LineProgress)
