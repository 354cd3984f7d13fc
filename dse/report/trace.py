"""Chrome trace JSON of a simulated timeline (opens in Perfetto and chrome://tracing)."""

from __future__ import annotations

import json
from pathlib import Path

from dse.errors import UsageError
from dse.files import atomic_path
from dse.sim.engine import SimResult

__all__ = ["chrome_trace", "write_chrome_trace"]


def chrome_trace(result: SimResult) -> dict[str, object]:
    """The trace as a dict: one track (thread) per device slot, link and host core.

    Raises:
        UsageError: The run was not traced (``simulate(..., trace=True)``).
    """
    if result.events is None:
        raise UsageError("the run kept no timeline; simulate with trace=True")
    # Overlapping steps on one resource (the cores of a cluster, the slots of a device,
    # transfers sharing a link) go on lanes of their own: rpi4_cpu/1, rpi4_cpu/2, ...
    lanes: dict[str, list[float]] = {}
    placed = []
    for track, name, start, end, frame in sorted(result.events, key=lambda e: (e[2], e[3])):
        ends = lanes.setdefault(track, [])
        lane = next((i for i, t in enumerate(ends) if t <= start), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        placed.append((f"{track}/{lane}" if lane else track, name, start, end, frame))
    tracks = sorted({p[0] for p in placed})
    tid = {name: i + 1 for i, name in enumerate(tracks)}
    events: list[dict[str, object]] = [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid[t], "args": {"name": t}}
        for t in tracks
    ]
    events.append({"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
                   "args": {"name": result.plan.config.name}})
    for track, name, start, end, frame in placed:
        events.append({"name": f"{name} #{frame}", "cat": name, "ph": "X", "pid": 1,
                       "tid": tid[track], "ts": start * 1e6, "dur": (end - start) * 1e6,
                       "args": {"frame": frame}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_chrome_trace(result: SimResult, path: Path | str) -> Path:
    """Write :func:`chrome_trace` to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(chrome_trace(result)))
    return path
