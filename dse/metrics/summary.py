"""From a :class:`~dse.sim.engine.SimResult` to the metrics a user reads (pure functions).

- Throughput is steady state: completions after the warm-up frames and before the drain (closed
  loop: the last completion per worker, which meet less competition), over the time they span;
  where a closed loop's completions repeat a pattern, the window spans whole periods of it.
- Latency is from arrival (closed loop: from when a worker takes the frame) to release, which is
  the policy's to say (:meth:`~dse.sim.policies.BasePolicy.release_times`): with co-execution's
  reorder buffer a frame is released only after every earlier frame, and that wait counts.
- Utilization of a device: time with at least one inference in flight over the makespan; of a
  host cluster: core-seconds over cores x makespan; of a link: bytes over bandwidth x makespan.
- Energy is the integral of power: every device of the platform draws idle power for the whole
  run and active power while busy; a host cluster is busy for its core-seconds / cores (plus the
  time it computes as a unit); the board draws its own idle power.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dse.cost import energy_j

if TYPE_CHECKING:
    from dse.sim.engine import SimResult

__all__ = ["Metrics", "summarize"]


@dataclass(frozen=True)
class Metrics:
    """The metrics of one run. ``to_dict()`` gives the JSON form ``dse simulate --json`` prints.

    Attributes:
        frames: Per frame: arrival, start, done, release (after reordering), latency, unit.
        utilization: Per resource (``device ncs2:0``, ``cores rpi4_cpu``, ``link usb3_hub``,
            ``dram``): fraction of the makespan in use.
        energy: Per powered part: joules over the run.
    """

    throughput_fps: float
    latency_ms: dict[str, float]
    utilization: dict[str, float]
    frames_per_device: dict[str, int]
    energy_per_inference_j: float
    average_power_w: float
    price_usd: float | None
    makespan_s: float
    sustained: bool | None
    frames: pd.DataFrame = field(repr=False)
    energy: dict[str, float] = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "throughput_fps": self.throughput_fps,
            "latency_ms": self.latency_ms,
            "energy_per_inference_j": self.energy_per_inference_j,
            "average_power_w": self.average_power_w,
            "price_usd": self.price_usd,
            "utilization": self.utilization,
            "frames_per_device": self.frames_per_device,
            "makespan_s": self.makespan_s,
            "sustained": self.sustained,
            "energy_j": self.energy,
            "notes": list(self.notes),
        }


def _period(gaps: np.ndarray, limit: int) -> int | None:
    """The smallest p <= ``limit`` after which the second half of the gaps between
    completions repeats (to float rounding), or ``None``."""
    tail = gaps[len(gaps) // 2:]
    for p in range(1, limit + 1):
        if len(tail) < 2 * p:
            return None
        if np.allclose(tail[p:], tail[:-p], rtol=1e-9, atol=1e-12):
            return p
    return None


def summarize(result: SimResult) -> Metrics:
    """Metrics of one simulation run (see the module docstring for the definitions)."""
    plan = result.plan
    stream = plan.config.stream
    frames = result.frames.copy()
    # NOTE: computed on numpy columns; the frames table gets its two new columns at the end
    done = frames["done_s"].to_numpy(dtype=float)
    # The policy's rules (BasePolicy's defaults for a plug-in of the bare Policy protocol).
    policy = plan.policy
    release = getattr(policy, "release_times", None)
    released = release(done) if release is not None else done
    latency_s = released - frames["arrival_s"].to_numpy(dtype=float)
    frames["release_s"] = released
    frames["latency_s"] = latency_s
    # Steady state: after the warm-up frames, and before the drain at the end of a finite run
    # (the last frames, one per worker, finish with less competition than in steady state).
    release = np.sort(released)
    warm = min(stream.warmup_frames, max(len(release) - 2, 0))
    drain = min(len(plan.workers), max(len(release) - warm - 1, 0)) \
        if stream.fps is None else 0
    t0 = release[warm - 1] if warm > 0 else float(np.nanmin(frames["start_s"].to_numpy(
        dtype=float)))
    t1 = release[len(release) - 1 - drain]
    # Frames released at t0 itself belong to the warm-up side of the window (ties are common:
    # a reorder buffer releases frames in bursts, identical workers finish together).
    count = int(np.sum((release > t0) & (release <= t1)))
    if stream.fps is None and warm > 0 and len(plan.workers) > 1:
        # A closed loop with deterministic service times settles into a pattern of
        # completions that repeats every p of them (bursts of up to one per worker); a window
        # whose ends are a whole number of periods apart is at the same phase at both ends,
        # one that is not over- or undercounts a burst (5% above the bound measured with 4
        # workers and 55 frames). With spread service times there is no period: the window
        # stays as it is.
        i0, i1 = warm - 1, len(release) - 1 - drain
        p = _period(np.diff(release[i0:i1 + 1]), limit=4 * len(plan.workers))
        if p is not None:
            i0 = i1 - p * ((i1 - i0) // p)
            if release[i1] > release[i0]:
                t0, t1, count = release[i0], release[i1], i1 - i0
    if t1 > t0 and count > 0:
        throughput = count / (t1 - t0)
    else:  # too few frames for a steady-state window: the whole run
        throughput = len(release) / result.makespan_s if result.makespan_s > 0 else 0.0
    lat = latency_s[frames["frame"].to_numpy() >= warm] * 1e3
    latency = {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
               "p99": float(np.percentile(lat, 99)), "mean": float(lat.mean()),
               "max": float(lat.max())}
    makespan = result.makespan_s
    util: dict[str, float] = {}
    for name, d in result.devices.items():
        util[f"device {name}"] = d["busy_s"] / makespan if makespan else 0.0
    for name, d in result.cores.items():
        util[f"cores {name}"] = d["load_s"] / (d["cores"] * makespan) if makespan else 0.0
    for name, d in result.links.items():
        util[f"link {name}"] = d["bytes"] / (d["bandwidth_bytes_s"] * makespan) \
            if makespan else 0.0
    if result.dram is not None:
        util["dram"] = result.dram["bytes"] / (result.dram["bandwidth_bytes_s"] * makespan) \
            if makespan else 0.0
    energy: dict[str, float] = {}
    dvfs = plan.config.execution.dvfs
    for name, unit in plan.units.items():
        busy = result.devices[name]["busy_s"]
        if unit.is_host:
            c = result.cores[name]
            busy = min(makespan, busy + c["load_s"] / c["cores"])
        energy[name] = energy_j(unit.spec, min(busy, makespan), makespan,
                                dvfs=dvfs.get(unit.device))
    energy["board"] = plan.board_idle_w * makespan
    total = sum(energy.values())
    units, counts = np.unique(np.asarray(frames["unit"], dtype=object), return_counts=True) \
        if len(frames) else ((), ())
    per_device = {str(u): int(c) for u, c in zip(units, counts, strict=True)}
    for name, d in result.devices.items():
        if d["uses"] and name not in per_device:
            per_device[name] = 0
    holds = {n: int(d["uses"]) for n, d in result.devices.items() if d["uses"]}
    frames_per_device = holds if getattr(policy, "counts_holds", False) \
        else {k: int(v) for k, v in per_device.items()}
    sustained = None
    if stream.fps is not None:
        sustained = bool(throughput >= stream.fps * 0.99)
    return Metrics(
        throughput_fps=float(throughput), latency_ms=latency, utilization=util,
        frames_per_device=frames_per_device,
        energy_per_inference_j=total / max(len(frames), 1),
        average_power_w=total / makespan if makespan else 0.0, price_usd=plan.price_usd,
        makespan_s=makespan, sustained=sustained, frames=frames, energy=energy,
        notes=plan.notes)
