"""Laws of several inferences in flight, as pure functions.

The simulator (:mod:`dse.sim`) plays these out event by event; the closed-form bound
(:mod:`dse.sim.bound`) and the calibration fitter use them directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse.devices.kinds import amdahl_core_scale
from dse.spec.device import DEFAULT_CONTENTION

__all__ = ["DEFAULT_CONTENTION", "amdahl_core_scale", "closed_loop_throughput",
           "contention_slowdown", "linear_slot_speedup", "pinned_core_scale", "slot_slowdown"]


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


def contention_slowdown(own_bytes_s: Any, others_bytes_s: Any, mem_bw_bytes_s: Any, *,
                        knee: Any = DEFAULT_CONTENTION[0],
                        saturation: Any = DEFAULT_CONTENTION[1],
                        slope: Any = DEFAULT_CONTENTION[2]) -> Any:
    """How much slower a task runs while co-runners demand ``others_bytes_s`` of the memory
    system it shares with them (the shared-DRAM law of every platform).

    The law is piecewise linear in the aggregate demand ``A = own + others``, in three regions
    as in PCCS (Xu, Belviranli, Shen and Vetter, "PCCS: Processor-Centric Contention-aware
    Slowdown Model for Heterogeneous System-on-Chips", MICRO 2021, doi:10.1145/3466752.3480101:
    a minor-contention region, a linear region and a saturation region; 3.7% mean error on
    CPUs, 8.7% on GPUs), with the task's own demand setting how sensitive it is (PCCS's
    processor-centric step: a compute-bound task hardly notices what saturates a memory-bound
    one). With demands as fractions of the memory system's sustained bandwidth
    ``B = mem_bw_bytes_s`` (``u = own / B``, ``a = A / B``)::

        slowdown = 1 + slope * u * (ramp(a) - ramp(u)),
        ramp(x) = clip(x - knee, 0, saturation - knee)

    so it is 1 with no co-runner, 1 while the aggregate stays below ``knee`` (minor region),
    grows linearly with the co-runners' demand beyond it (linear region), and stops growing
    at ``saturation`` (the memory system delivers no more: saturation region). It never falls
    below 1 and never decreases with the co-runners' demand.

    The datasheet default (:data:`DEFAULT_CONTENTION`: knee 1, no saturation, slope 1) is
    proportional sharing of the sustained bandwidth, the roofline's memory ceiling (Williams,
    Waterman and Patterson, "Roofline", CACM 52(4), 2009) shared in proportion to demand: a
    task spending the share ``u`` of its time on memory at rate ``B`` gets ``B x own / A``
    once the aggregate ``A`` exceeds ``B``, so its memory time grows by ``A / B``:
    ``(1 - u) + u A / B = 1 + u (a - 1)``. A task that is all memory traffic (``u = 1``)
    beside ``n - 1`` like it slows ``n`` times: an equal split of the bandwidth.
    Measured curves (PCCS's, and this host's, ``calibration/host/corun.csv``) bend earlier
    than the ceiling: fitted values have ``knee < 1`` and ``slope > 1``.

    Args:
        own_bytes_s: The task's own memory demand alone (traffic / time).
        others_bytes_s: The co-runners' demand, summed.
        mem_bw_bytes_s: The shared memory system's sustained bandwidth.
        knee, saturation, slope: The device's law (:class:`dse.spec.device.ContentionSpec`).

    Scalars or arrays (broadcast); a scalar gives a float.
    """
    bw = np.asarray(mem_bw_bytes_s, dtype=float)
    u = np.asarray(own_bytes_s, dtype=float) / bw
    a = u + np.maximum(np.asarray(others_bytes_s, dtype=float), 0.0) / bw
    k = np.asarray(knee, dtype=float)
    top = np.maximum(np.asarray(saturation, dtype=float) - k, 0.0)

    def ramp(x: np.ndarray) -> np.ndarray:
        return np.clip(x - k, 0.0, top)

    out = 1.0 + np.asarray(slope, dtype=float) * u * (ramp(a) - ramp(u))
    out = np.where(np.isfinite(out), np.maximum(out, 1.0), 1.0)
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
