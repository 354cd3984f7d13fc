"""The exception hierarchy of dse.

Every error caused by user input derives from :class:`DseError` and carries a list of
:class:`Problem` rows, so that one error reports every problem in a file at once, each naming
the file, the path inside it, what was expected and what was found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DseError", "OnnxError", "Problem", "SpecError", "UsageError", "WorkloadError",
           "did_you_mean"]

#: Known names listed in full in a message when there are at most this many.
LIST_AT_MOST = 12


@dataclass(frozen=True)
class Problem:
    """One problem found in one input.

    Attributes:
        file: The file (or other source, such as a zoo name) the problem is in.
        path: Where inside it: a YAML path (``platform.accelerators.ncs2.count``), an ONNX node
            (``node 'conv1' (Conv)``), a CSV row and column; empty if the whole file is at fault.
        message: What was expected and what was found.
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class DseError(Exception):
    """The root of every error dse raises on purpose.

    Args:
        problems: The problems, or a single message string.
    """

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: tuple[Problem, ...] = ()
            text = problems
        else:
            self.problems = tuple(problems)
            text = "\n".join(str(p) for p in self.problems)
        super().__init__(text)


class SpecError(DseError, ValueError):
    """A YAML specification (device, platform, experiment) is invalid."""


class WorkloadError(DseError, ValueError):
    """A workload cannot be built: unknown zoo name, bad zoo options, unreadable source."""


class OnnxError(WorkloadError):
    """An ONNX file is malformed, hostile or uses operators dse does not know."""


class UsageError(DseError, ValueError):
    """A call's arguments do not go together (a custom catalog with worker processes, a trace
    asked of an untraced run): the caller's mistake, reported as bad input."""


def did_you_mean(name: object, known: Iterable[str], *, what: str = "name") -> str:
    """The end of an "unknown name" message: the closest known names, and the known names
    themselves when there are few.

    >>> did_you_mean("ncs3", ["ncs2", "coral_usb"], what="device")
    "unknown device 'ncs3'; did you mean 'ncs2'? known devices: coral_usb, ncs2"
    """
    names = sorted({str(k) for k in known})
    text = f"unknown {what} {str(name)[:80]!r}"
    close = difflib.get_close_matches(str(name)[:200], names, n=3, cutoff=0.6)
    if close:
        text += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not names:
        return text
    if len(names) <= LIST_AT_MOST:
        return f"{text} known {what}s: {', '.join(names)}" if close else \
            f"{text}; known {what}s: {', '.join(names)}"
    return f"{text} ({len(names)} known {what}s)" if close else \
        f"{text}; {len(names)} known {what}s, such as {', '.join(names[:LIST_AT_MOST])}"

