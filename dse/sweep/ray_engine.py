"""The Ray engine of a sweep: chunks as Ray tasks, on this machine or on a cluster.

``ray`` is imported only here, and only when the engine is used (``pip install dse[ray]``).
Without ``address``, a local Ray instance of ``workers`` CPUs is started (no dashboard, worker
logs not forwarded) and shut down after the sweep; a Ray instance this process already runs
(``ray.init`` by the caller) is used as it is and left running. With ``address`` (``HOST:PORT``
of a cluster's head, ``ray://HOST:PORT`` for Ray Client, or ``auto``), the sweep joins that
cluster; the address is first checked with a plain TCP connection of a few seconds, so that an
unreachable one is one clear error, not a long hang inside Ray.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.errors import DseError, Problem
from dse.sweep.chunks import write_chunk, write_part
from dse.sweep.evaluate import FamilySpec, Targets, evaluate_chunk

__all__ = ["CONNECT_TIMEOUT_S", "RaySession", "check_address", "local_init_options"]

#: How long the reachability check of ``--address`` waits.
CONNECT_TIMEOUT_S = 3.0


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise a :class:`~dse.errors.DseError` unless ``HOST:PORT`` (or ``ray://HOST:PORT``)
    accepts a TCP connection within ``timeout_s``; ``auto`` is left to Ray."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise DseError([Problem("--address", address, "expected HOST:PORT (a Ray head's GCS "
                                "address, such as 10.0.0.5:6379), ray://HOST:PORT or auto")])
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DseError([Problem("--address", address, f"no Ray cluster reachable there "
                                f"within {timeout_s:g} s ({exc.strerror or exc}); start one "
                                "with `ray start --head` or leave --address out to run Ray "
                                "on this machine")]) from None


def local_init_options(workers: int) -> dict[str, Any]:
    """The ``ray.init`` keywords of a local Ray instance for a sweep: ``workers`` CPUs, no
    dashboard, worker output and Ray's own INFO lines kept off the terminal, the workers
    importing dse from where this process does (an editable install may point at another
    checkout than the one the sweep runs from), and the workers at the niceness of this
    process: Ray's default of 15 makes them yield to any other process, so that on a shared
    machine two Ray workers ran barely faster than one while the local engine's two processes
    ran 1.9x one."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {"num_cpus": max(int(workers), 1), "include_dashboard": False,
            "log_to_driver": False, "logging_level": logging.WARNING,
            "runtime_env": {"env_vars": {"PYTHONPATH": path}},
            "_system_config": {"worker_niceness": os.nice(0)}}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DseError([Problem("--engine", "ray", "the Ray engine needs the ray package: pip "
                                "install 'dse[ray]'")]) from None
    return ray


class RaySession:
    """A connection to Ray for one sweep (see the module docstring).

    Raises:
        DseError: ray is not installed, or ``address`` is unreachable.
    """

    def __init__(self, *, address: str | None = None, workers: int = 1) -> None:
        if address is not None:
            check_address(address)
        ray = _import_ray()
        self.ray = ray
        self.workers = max(int(workers), 1)
        self.owned = not ray.is_initialized()
        if self.owned:
            if address is None:
                ray.init(**local_init_options(self.workers))
            else:
                try:
                    ray.init(address=address, log_to_driver=False,
                             logging_level=logging.WARNING)
                except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
                    raise DseError([Problem("--address", address, f"cannot join the Ray "
                                            f"cluster: {exc}")]) from None
            self.workers = max(int(ray.cluster_resources().get("CPU", self.workers)), 1)
        # On this machine the workers write their partitions themselves; the workers of a
        # cluster joined at an address may not see this folder, so their frames come back.
        self.local = address is None
        self._task = ray.remote(num_cpus=1)(write_chunk if self.local else evaluate_chunk)

    def results(self, family: FamilySpec, targets: Targets, todo: list[tuple[int, np.ndarray]],
                out: Path) -> Iterator[tuple[int, int]]:
        """Each chunk's member count as its partition is written (a bounded window of tasks
        in flight)."""
        ray = self.ray
        queue = iter(todo)
        pending: dict[Any, int] = {}
        fam_ref, targets_ref = ray.put(family), ray.put(targets)

        def submit(k: int, idx: np.ndarray) -> None:
            args = (fam_ref, idx, targets_ref, str(out), k) if self.local else \
                (fam_ref, idx, targets_ref)
            pending[self._task.remote(*args)] = k

        for k, idx in queue:
            submit(k, idx)
            if len(pending) >= 2 * self.workers:
                break
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                k = pending.pop(ref)
                got = ray.get(ref)
                if isinstance(got, pd.DataFrame):
                    write_part(out, k, got)
                    got = len(got)
                yield k, int(got)
                nxt = next(queue, None)
                if nxt is not None:
                    submit(*nxt)

    def close(self) -> None:
        """Shut down the Ray instance this session started (not one it joined or found)."""
        if self.owned:
            self.ray.shutdown()
