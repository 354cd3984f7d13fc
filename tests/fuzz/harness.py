"""The fuzz suite's harness: run one CLI case in this process, bounded in time, and judge it.

A case passes when ``dse`` exits 0, or exits 2 with an error whose lines name the input at fault
and no traceback. Exit 1 (a bug), a traceback, or running past the case's time limit (a hang) is
a failure. The mutations themselves are Hypothesis strategies (``strategies.py``), so a failure
shrinks to a small reproducer.
"""

from __future__ import annotations

import contextlib
import io
import re
import resource
import signal
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import FrameType

from dse.cli import main

#: Seconds one case may run before it counts as a hang (generous: the machine is shared).
CASE_TIMEOUT_S = 60.0

#: Memory a case may take beyond what the process had (bytes of address space): a hostile case
#: that allocates without bound (a billion simulated devices) gets a MemoryError, not the
#: machine's out-of-memory killer (the fuzz run shares the machine).
CASE_MEMORY_BYTES = 6 * 2**30

#: Outcome classes of every case run in this process, for the long benchmark's report.
OUTCOMES: Counter[str] = Counter()


class CaseTimeout(BaseException):
    """Raised in the case when its time is up. A BaseException, so that the CLI's own
    ``except Exception`` (exit 1 for a bug) does not swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the running code after ``seconds`` (main thread only)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        # where it hung, for the report (the exception unwinds through the CLI untouched)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        raise CaseTimeout(f"the case ran longer than {seconds:g} s; it was in:\n{stack}")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def memory_limit(extra_bytes: int) -> Iterator[None]:
    """Limit the process's address space to what it has now plus ``extra_bytes`` (Linux)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@dataclass(frozen=True)
class Outcome:
    """What one CLI run did."""

    argv: tuple[str, ...]
    code: int | None  # None: it ran out of time
    out: str
    err: str
    seconds: float

    @property
    def kind(self) -> str:
        """``ok``, ``bad-input``, ``bug``, ``traceback`` or ``hang``."""
        if self.code is None:
            return "hang"
        if "Traceback" in self.err:
            return "traceback"
        return {0: "ok", 2: "bad-input"}.get(self.code, "bug")

    def problem_lines(self) -> list[str]:
        """The lines of the error message (the first after ``error:``); lines that start with
        white space continue the one before."""
        # "\n" only: str.splitlines() also breaks at \x1c-\x1e, \x85, \u2028 inside a value
        lines = [ln for ln in self.err.split("\n") if ln.strip()]
        start = next((i for i, ln in enumerate(lines) if ln.startswith("error:")), None)
        if start is None:
            return []
        lines = lines[start:]
        lines[0] = lines[0].removeprefix("error:").strip()
        return [ln for ln in lines if not ln[:1].isspace()]

    def verdict(self, names: Iterable[str], *, tolerate: Iterable[str] = ()) -> str:
        """``""`` if the case passed, else why not.

        Args:
            names: What an error line may name (the file, ``--set``, ...).
            tolerate: Patterns (``re.search``) of known misattributions another change is
                fixing (each named where it is defined); such a line passes the naming check
                only.
        """
        if self.kind in ("hang", "bug", "traceback"):
            return f"{self.kind}: exit {self.code}\n{self.err[-3000:]}"
        if self.code == 2:
            lines = self.problem_lines()
            if not lines:
                return f"exit 2 without an 'error:' line:\n{self.err[-2000:]}"
            names, tolerate = tuple(names), tuple(tolerate)
            for line in lines:
                if not any(n in line for n in names) and \
                        not any(re.search(t, line) for t in tolerate):
                    return f"an error line does not name {names}: {line[:300]!r}"
        return ""


def run_cli(argv: list[str], *, timeout_s: float | None = None) -> Outcome:
    """Run ``dse ARGV`` in this process with stdout and stderr captured, bounded in time
    (default :data:`CASE_TIMEOUT_S`, read at the call)."""
    timeout_s = timeout_s or CASE_TIMEOUT_S
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code: int | None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                memory_limit(CASE_MEMORY_BYTES), time_limit(timeout_s):
            code = main(argv)
    except CaseTimeout as exc:
        code = None
        err.write(f"\n{exc}")
    outcome = Outcome(tuple(argv), code, out.getvalue(), err.getvalue(),
                      time.perf_counter() - start)
    OUTCOMES[outcome.kind] += 1
    return outcome
