"""Laws of several inferences in flight, as pure functions.

The simulator (:mod:`dse.sim`) plays these out event by event; the closed-form bound
(:mod:`dse.sim.bound`) and the calibration fitter use them directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["amdahl_core_scale", "closed_loop_throughput", "linear_slot_speedup",
           "pinned_core_scale", "shared_dram_bandwidth", "slot_slowdown"]


def amdahl_core_scale(cores: int | None, threads: int | None,
                      parallel_fraction: float | None) -> float:
    """Share of a CPU cluster's all-cores peak that ``threads`` intra-op threads of one
    inference reach: Amdahl's speed-up ``1 / ((1 - p) + p / t)`` over one core, divided by the
    cores (linear in ``t`` when ``parallel_fraction`` is ``None``; 1 for a device without
    cores). More threads than cores help no further."""
    if not cores:
        return 1.0
    t = min(threads or cores, cores)
    p = parallel_fraction
    speedup = float(t) if p is None else 1.0 / ((1.0 - p) + p / t)
    return speedup / cores


def slot_slowdown(busy: int, speedup: float) -> float:
    """How much slower each of ``busy`` inferences runs on a device whose ``busy`` slots in use
    give ``speedup`` times one slot's throughput: ``busy / speedup`` (1 for independent
    slots)."""
    return busy / speedup if busy > 0 else 1.0


def pinned_core_scale(cores: int, pinned: int) -> float:
    """How much slower a CPU cluster's inference runs with ``pinned`` of its ``cores`` driving
    accelerators: ``cores / (cores - pinned)`` (infinite when none is left)."""
    free = cores - pinned
    return cores / free if free > 0 else float("inf")


def shared_dram_bandwidth(mem_bw_bytes_s: Any, dram_bw_bytes_s: Any, sharers: Any) -> Any:
    """Memory bandwidth each of ``sharers`` identical devices has while all of them stream
    from one DRAM: an equal share ``dram_bw / sharers`` of the platform's sustained bandwidth,
    never more than the device's own ports (``mem_bw``). One device alone, or a platform
    without a stated DRAM bandwidth (``None`` or 0), keeps the device's own figure.

    Identical cores running the same model (the DPU cores of a Zynq board) reach their
    memory-bound layers with the same demand, so in those layers each gets its share of the
    DDR controller; the cost model times every layer with it
    (:func:`dse.cost.compute.roofline_times`), and the aggregate ceiling stays in
    :func:`closed_loop_throughput` (``dram_s``). Scalars or arrays (broadcast)."""
    mem = np.asarray(mem_bw_bytes_s, dtype=float)
    dram = np.asarray(0.0 if dram_bw_bytes_s is None else dram_bw_bytes_s, dtype=float)
    n = np.asarray(sharers, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where((n > 1) & (dram > 0), dram / np.maximum(n, 1.0), np.inf)
    out = np.minimum(mem, share)
    return float(out) if out.ndim == 0 else out


def linear_slot_speedup(slots: int, scaling: float) -> tuple[float, ...]:
    """Throughput with k = 1..``slots`` inferences in flight on one device, relative to one,
    when each further slot adds ``scaling`` of a slot: ``1 + (k - 1) x scaling``."""
    return tuple(1.0 + k * scaling for k in range(slots))


def closed_loop_throughput(latency_s: np.ndarray, hold_s: np.ndarray, host_core_s: np.ndarray,
                           *, threads: np.ndarray, devices: np.ndarray, capacity: np.ndarray,
                           host_cores: np.ndarray, link_s: np.ndarray | float = 0.0,
                           links: np.ndarray | float = 1.0,
                           dram_s: np.ndarray | float = 0.0) -> np.ndarray:
    """Steady-state frames/s of ``devices`` identical devices, each fed by ``threads`` host
    threads in a closed loop (a thread submits its next frame when the last one is done).

    Five resources cap it, as in the bound (:func:`dse.sim.bound.bound`) of such a plan:
    the threads, each doing one frame of ``latency_s`` at a time; the devices, each holding
    a frame for ``hold_s`` (compute and transfers) with ``capacity`` times one slot's
    throughput (:meth:`~dse.spec.device.DeviceSpec.speedup` of the slots in use); the host
    cores, ``host_core_s`` of core time per frame (driver and host work) on ``host_cores``
    cores; and the links, ``link_s`` of one link's full bandwidth per frame on ``links`` link
    instances (one per device, or one shared hub); and the platform's shared DRAM,
    ``dram_s`` of its bandwidth per frame (the memory traffic of devices that share it). The simulator reaches this where one resource saturates and stays below it in the
    transition between them, where queueing at the device delays some threads.

    All arguments are arrays of one entry per configuration (or scalars).
    """
    with np.errstate(divide="ignore"):
        rates = np.stack(np.broadcast_arrays(
            devices * threads / latency_s, devices * capacity / hold_s,
            np.where(host_core_s > 0, host_cores / host_core_s, np.inf),
            np.where(np.asarray(link_s) > 0, links / np.maximum(link_s, 1e-300), np.inf),
            np.where(np.asarray(dram_s) > 0, 1.0 / np.maximum(dram_s, 1e-300), np.inf)))
    return rates.min(axis=0)
