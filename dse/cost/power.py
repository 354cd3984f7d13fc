"""Energy from power and busy time."""

from __future__ import annotations

import numpy as np

from dse.spec.device import DeviceSpec

__all__ = ["active_power_w", "energy_j", "inference_energy_j"]


def active_power_w(device: DeviceSpec, dvfs: str | None = None) -> float:
    """Power while running, at the nominal clock or a DVFS level.

    Raises:
        KeyError: Unknown DVFS level (the message lists the known ones).
    """
    if dvfs is None:
        return device.power.active_w
    for level in device.power.dvfs:
        if level.name == dvfs:
            return level.active_w
    known = ", ".join(level.name for level in device.power.dvfs) or "none"
    raise KeyError(f"unknown dvfs level {dvfs!r} of {device.name}; known: {known}")


def energy_j(device: DeviceSpec, busy_s: float, wall_s: float, *,
             dvfs: str | None = None) -> float:
    """Energy of one device over ``wall_s`` seconds of which it ran ``busy_s``.

    ``active_w x busy + idle_w x (wall - busy)``: the device draws its active power while
    running and its idle power the rest of the time.

    Raises:
        ValueError: ``busy_s`` is negative or longer than ``wall_s``.
    """
    if not 0 <= busy_s <= wall_s * (1 + 1e-12):
        raise ValueError(f"need 0 <= busy_s <= wall_s, got busy {busy_s} s of {wall_s} s")
    return float(inference_energy_j(device, busy_s, wall_s, dvfs=dvfs))


def inference_energy_j(device: DeviceSpec, busy_s: np.ndarray | float,
                       wall_s: np.ndarray | float, *, dvfs: str | None = None
                       ) -> np.ndarray | float:
    """:func:`energy_j` of many runs at once (no check; ``busy_s`` is capped at ``wall_s``).

    Of one inference on an otherwise idle platform, ``busy_s`` is the device's time
    (:attr:`dse.cost.ModelCost.device_s`) and ``wall_s`` the latency
    (:attr:`~dse.cost.ModelCost.time_s`): what the simulator charges the device for a
    lone inference, and what :func:`dse.calibrate.predict` gives for an energy row without the
    board's idle power.
    """
    busy_s = np.minimum(busy_s, wall_s)
    return active_power_w(device, dvfs) * busy_s + device.power.idle_w * (wall_s - busy_s)
