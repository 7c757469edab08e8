"""Progress of long solves: stages with a completed fraction and a time estimate.

``progress=True`` writes one line per stage to stderr, but only once the solve has run for
``quiet_seconds`` (2 s): short solves print nothing.  A callable receives
``(stage, fraction)`` for every stage.  Nothing is ever written to stdout.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Report ``(stage, fraction)``; see the module docstring."""

    def durations(self):
        """Seconds spent in each reported stage (until the next one), as a dict."""
        out = {}
        for (s, t), (_, t2) in zip(self.marks, self.marks[1:]):
            key = s.split(":")[0]
            out[key] = out.get(key, 0.0) + (t2 - t)
        return out

    def part(self, prefix: str, lo: float, hi: float):
        """A view for one part of the work: its stages are reported with ``prefix`` and its
        fractions mapped to [lo, hi] of the whole (``durations`` stays the whole's)."""
        parent = self

        class _View:
            def __call__(self, stage, fraction):
                f = min(max(float(fraction), 0.0), 1.0)
                parent(f"{prefix}{stage}", lo + (hi - lo) * f)

            def durations(self):
                return parent.durations()

        return _View()

    def __init__(self, progress=None, *, quiet_seconds=2.0, stream=None):
        self.sink = progress
        self.quiet = float(quiet_seconds)
        self.stream = stream
        self.t0 = time.perf_counter()
        self.pending = []
        self.marks = []            # (stage, seconds since the start): the route's timings

    def __call__(self, stage: str, fraction: float):
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.marks.append((stage, time.perf_counter() - self.t0))
        if callable(self.sink):
            self.sink(stage, fraction)
            return
        if not self.sink:
            return
        elapsed = time.perf_counter() - self.t0
        line = f"effcoef: [{elapsed:6.1f} s] {100 * fraction:3.0f}% {stage}"
        if 0.05 < fraction < 1.0:
            line += f" (about {elapsed / fraction - elapsed:.0f} s left)"
        if elapsed < self.quiet:
            self.pending = [line]          # only the latest stage is shown once we speak
            return
        stream = self.stream if self.stream is not None else sys.stderr
        for ln in self.pending:
            print(ln, file=stream, flush=True)
        self.pending = []
        print(line, file=stream, flush=True)
