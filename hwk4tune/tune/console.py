"""What a sweep prints: its own lines, and the worker noise it hides.

Ray's workers print a ``SystemExit`` traceback each time a scheduler stops a trial early (harmless: the
trial ends TERMINATED and the error count stays 0) and a line per checkpoint; both are filtered from the
driver's stderr, every other line passes through. Tune's own advice on an interrupted sweep ("Resume experiment
with: Tuner.restore(path=..., trainable=...)") is dropped too: hwk4tune prints the command that works
(``hwk4tune resume DIR``) in the summary, or after a second Ctrl-C.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from typing import Iterator

# Tune's "Experiment has been interrupted, but the most recent state was saved.\nResume experiment with:
# Tuner.restore(path=..., trainable=...)" (ray/tune/tune.py, a warning of the logger ray.tune.tune)
RAY_RESTORE_HINT = ("Resume experiment with: Tuner.restore(", "Experiment has been interrupted, but the most recent state")
RAY_TUNE_LOGGER = "ray.tune.tune"


class HideRayRestoreHint(logging.Filter):
    """Drops Tune's Tuner.restore advice (a Python call a user of the command line cannot make)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is not ours to judge
            return True
        return not any(hint in text for hint in RAY_RESTORE_HINT)


def say(verbose: bool, *lines: str) -> None:
    """Print ``lines`` (``notice:`` lines to stderr) unless quiet."""
    if verbose:
        for line in lines:
            print(line, file=sys.stderr if line.startswith("notice:") else sys.stdout, flush=True)


class QuietStream(io.TextIOBase):
    """Passes text through, minus the ``SystemExit`` tracebacks Ray's workers print when a scheduler stops a
    trial early, and the per-epoch checkpoint lines."""

    _START = re.compile(r"^Traceback \(most recent call last\)")
    _CONTINUED = ("Traceback", "During handling", "The above exception")
    _NOISE = ("Checkpoint successfully created at:",)  # one per trial and epoch, from every worker

    def __init__(self, stream):
        self._stream = stream
        self._held: list[str] = []
        self._prefix = ""
        self._partial = ""
        self.hidden = 0

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line + "\n")
        return len(text)

    def _line(self, line: str) -> None:
        # Ray's "(ImplicitFunc pid=123) ", in colour on a terminal
        prefix = re.match(r"^((?:\x1b\[[0-9;]*m)?\([^)]*\)(?:\x1b\[[0-9;]*m)?\s?)?", line).group(0)
        body = line[len(prefix):]
        if not self._held:
            if body.startswith(self._NOISE) or any(hint in body for hint in RAY_RESTORE_HINT):
                return
            if self._START.search(body):
                self._held, self._prefix = [line], prefix
            else:
                self._stream.write(line)
            return
        if prefix != self._prefix:  # another process's line, interleaved
            self._stream.write(line)
            return
        self._held.append(line)
        if body[:1] in (" ", "\t") or not body.strip() or body.startswith(self._CONTINUED):
            if len(self._held) > 500:
                self._flush_held()
            return
        # the exception line ends the traceback
        if body.startswith("SystemExit"):
            self._held = []
            self.hidden += 1
        else:
            self._flush_held()

    def _flush_held(self) -> None:
        for held in self._held:
            self._stream.write(held)
        self._held = []

    def flush(self) -> None:
        self._stream.flush()

    def close_out(self) -> None:
        self._flush_held()
        if self._partial:
            self._stream.write(self._partial)
            self._partial = ""
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_early_stops() -> Iterator[QuietStream]:
    """sys.stderr through a :class:`QuietStream` for the duration, and Tune's Tuner.restore advice dropped."""
    quiet = QuietStream(sys.stderr)
    hint = HideRayRestoreHint()
    logging.getLogger(RAY_TUNE_LOGGER).addFilter(hint)
    old, sys.stderr = sys.stderr, quiet
    try:
        yield quiet
    finally:
        sys.stderr = old
        logging.getLogger(RAY_TUNE_LOGGER).removeFilter(hint)
        quiet.close_out()
