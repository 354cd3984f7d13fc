"""The forward model of calibration: dse's prediction of measurement rows.

:func:`predict` is the reference: every row through :func:`dse.cost.model_cost` (one inference
alone) or the simulator (several in flight), for one device spec. :class:`Forward` gives the same
numbers for many trial parameter values without re-running either: it prices every row once with
the datasheet spec, keeps what the fitted parameters cannot change (transfers, layers on a
fallback device, weight placement) and re-times the device's layers with the cost model's own
vectorised core, :func:`dse.cost.compute.roofline_times`, over the layers of every row of every
target at once. Rows with several inferences in flight on an accelerator use the closed-loop law
:func:`dse.cost.concurrency.closed_loop_throughput` on the row's plan; sessions on a CPU cluster
(which share its DRAM) replay their simulation plan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from dse.cost import ModelCost, model_cost
from dse.cost.compute import (
    cold_times,
    efficiency_vector,
    kernel_model_terms,
    roofline_times,
    unfolded,
)
from dse.cost.concurrency import (
    amdahl_core_scale,
    closed_loop_throughput,
    contention_slowdown,
    linear_slot_speedup,
)
from dse.devices import Catalog, default_catalog
from dse.devices.kinds import device_kind
from dse.devices.overlay import Overlay, apply_overlay
from dse.errors import DseError, Problem, SpecError
from dse.metrics import summarize
from dse.run import simulate
from dse.sim.build import build_plan
from dse.sim.engine import Simulation
from dse.sim.routes import with_contention
from dse.spec.device import DeviceSpec
from dse.spec.experiment import load_experiment
from dse.workloads import Workload, workload

__all__ = ["FAST", "PREDICTED_POLICIES", "Forward", "concurrency", "fitted_spec",
           "overlay_values", "predict", "row_kind"]

#: The execution policies (:mod:`dse.sim.policies`) whose measurement rows the forward model
#: predicts: one inference at a time (``single``), and several in flight where every worker runs
#: the whole model on the row's device (``threads``, ``data_parallel``, ``coexec`` restricted to
#: that device; :func:`concurrency`), priced by the closed-loop law on the row's plan or by its
#: simulation. A ``pipeline`` or ``mapping`` row would need its stages or its mapping, which a
#: measurement row does not carry. Measurement files are validated against this set
#: (:func:`dse.calibrate.measurements.validate`).
PREDICTED_POLICIES = ("single", "threads", "data_parallel", "coexec")


def _is_host_kind(spec: DeviceSpec) -> bool:
    """A CPU cluster or microcontroller core: ``threads`` are intra-op threads of one inference,
    ``streams`` sessions side by side on its cores."""
    return device_kind(spec.kind).is_host


def concurrency(spec: DeviceSpec, r: Any) -> str:
    """How a row is predicted: ``single`` (one inference at a time: the model cost),
    ``closed`` (several in flight on accelerators: the closed-loop law) or ``sessions``
    (several sessions on a CPU cluster: the simulator)."""
    if _is_host_kind(spec):
        return "sessions" if (r.streams > 1 or r.count > 1) else "single"
    return "closed" if (r.policy != "single" or r.count > 1 or r.streams > 1) else "single"


def _concurrent(spec: DeviceSpec, r: Any) -> bool:
    return concurrency(spec, r) != "single"


def row_kind(spec: DeviceSpec, rows: pd.DataFrame) -> np.ndarray:
    """``single`` (one inference at a time on one device), ``concurrent`` (several in flight:
    threads, sessions, devices) or ``power`` (power and energy), per row."""
    out = []
    for r in rows.itertuples(index=False):
        if r.metric in ("power", "energy"):
            out.append("power")
        else:
            out.append("concurrent" if _concurrent(spec, r) else "single")
    return np.array(out, dtype=object)


def overlay_values(spec: DeviceSpec, values: Mapping[str, float]) -> dict[str, Any]:
    """Fitted values as spec paths: ``slot_scaling`` s becomes ``slot_speedup`` 1 + (k-1) s."""
    out: dict[str, Any] = {k: v for k, v in values.items() if k != "slot_scaling"}
    if "slot_scaling" in values and spec.slots > 1:
        out["slot_speedup"] = list(linear_slot_speedup(spec.slots, values["slot_scaling"]))
    return out


def fitted_spec(spec: DeviceSpec, values: Mapping[str, float]) -> DeviceSpec:
    """``spec`` with fitted ``values`` (spec paths, and ``slot_scaling``) applied."""
    return apply_overlay(spec, Overlay(device=spec.name, values=overlay_values(spec, values)),
                         label="fit")


def predict(spec: DeviceSpec, rows: pd.DataFrame, *, catalog: Catalog | None = None
            ) -> np.ndarray:
    """dse's prediction of every measurement row (SI units), for this device spec.

    Latency rows: one inference alone (model cost, including the transfers over the row's link
    and fallback to the host's CPU; on a CPU cluster with the row's intra-op ``threads``).
    Throughput rows with one inference in flight: 1 / latency; with several threads, sessions
    or devices: the simulator. Power rows: the device's average power while it runs inferences
    back to back (active while computing, idle during transfers) plus the board's own idle
    power; energy rows: that power times the latency.

    Raises:
        DseError: A row's configuration cannot be simulated, or the model cannot run on it.
    """
    catalog = catalog or default_catalog()
    out = np.empty(len(rows))
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.metric in ("power", "energy"):
            cost = _cost(spec, r, catalog)
            power = _power_w(spec, cost.time_s, cost.device_s, r, catalog)
            out[i] = power if r.metric == "power" else power * cost.time_s
        elif _concurrent(spec, r):
            out[i] = _simulated(spec, r, catalog)
        else:
            t = _cost(spec, r, catalog).time_s
            out[i] = t if r.metric == "latency" else 1.0 / t
    return out


def _board_idle_w(r: Any, catalog: Catalog) -> float:
    host = r.host
    return catalog.platforms[host].board_idle_w if host in catalog.platforms else 0.0


def _power_w(spec: DeviceSpec, latency_s: float, busy_s: float, r: Any,
             catalog: Catalog) -> float:
    busy = min(max(busy_s / latency_s, 0.0), 1.0) if latency_s > 0 else 1.0
    return spec.power.active_w * busy + spec.power.idle_w * (1.0 - busy) + \
        _board_idle_w(r, catalog)


def _host_cluster(r: Any, catalog: Catalog) -> DeviceSpec | None:
    host = r.host
    if not host:
        return None
    if host in catalog.platforms:
        return catalog.device(next(iter(catalog.platforms[host].host)))
    return catalog.device(host) if host in catalog.devices else None


def _workload(r: Any) -> Workload:
    options = json.loads(r.options) if r.options else {}
    return workload(r.workload, precision=r.precision, **options)


def _cost(spec: DeviceSpec, r: Any, catalog: Catalog) -> ModelCost:
    w = _workload(r)
    link_name = r.link or spec.link
    link = catalog.link(link_name) if link_name else None
    fallback = _host_cluster(r, catalog)
    if fallback is spec or (fallback is not None and fallback.name == spec.name):
        fallback = None
    threads = int(r.threads) if _is_host_kind(spec) else None
    name = getattr(r, "runtime", "") or spec.default_runtime
    runtime = catalog.runtimes.get(name) if name else None
    cost = model_cost(w, spec, r.precision, fallback=fallback, link=link, threads=threads,
                      runtime=runtime)
    if not cost.feasible:
        raise DseError([Problem(str(r.dataset), r.workload, f"{spec.name}: {cost.reason}")])
    return cost


def _sim_config(spec: DeviceSpec, r: Any, catalog: Catalog) -> dict[str, Any]:
    options = json.loads(r.options) if r.options else {}
    host = r.host or next(n for n, p in catalog.platforms.items() if spec.name in p.accelerators)
    try:
        platform = catalog.platform(host)
    except SpecError:
        platform = None  # a host CPU device named as the host
    on_host = platform is not None and spec.name in platform.host
    accelerators = {} if on_host else {spec.name: {"count": int(r.count)}}
    if _is_host_kind(spec):
        execution = {"policy": "threads", "threads": int(r.streams),
                     "intra_op_threads": int(r.threads)}
    else:
        execution = {"policy": r.policy if r.count == 1 else "data_parallel",
                     "threads": int(max(r.threads, r.streams))}
    return {"name": "calibration", "workload": {"zoo": r.workload, "precision": r.precision,
                                                "options": options},
            "platform": {"host": host, "accelerators": accelerators,
                         **({"link": r.link} if r.link else {}),
                         **({"runtimes": {spec.name: r.runtime}}
                            if getattr(r, "runtime", "") else {})},
            "execution": {**execution, "devices": [spec.name]},
            # enough frames that the steady-state window outlasts the start of every thread
            # jitter 0: a measured value is a median (or mean), the cost model's own time, so
            # it is predicted without the target's service-time spread
            "stream": {"frames": max(60, 20 * int(r.count) * int(max(r.threads, r.streams))),
                       "warmup": 10 * int(r.count) * int(max(r.threads, r.streams)),
                       "jitter": 0}}


def _simulated(spec: DeviceSpec, r: Any, catalog: Catalog) -> float:
    """A row with several inferences in flight, simulated: its throughput, or the median
    latency of one inference among the others."""

    cat = catalog.with_devices({spec.name: spec}, replace=True)
    report = simulate(_sim_config(spec, r, catalog), catalog=cat)
    if report.metrics is None:
        raise DseError([Problem(str(r.dataset), r.workload, f"{spec.name}: {report.infeasible}")])
    return _metric(report.metrics, r.metric)


def _metric(metrics: Any, metric: str) -> float:
    if metric == "throughput":
        return float(metrics.throughput_fps)
    return float(metrics.latency_ms["p50"]) * 1e-3


class _Replay:
    """A concurrent row's simulation plan, built once with the datasheet spec and re-timed for
    every trial: the device's layer steps scale with its single-inference layer time, its
    overhead and driver steps take the trial values. Running the engine on the re-timed plan
    gives what :func:`_simulated` gives with the fitted spec (checked in the tests) without
    pricing the model and planning again."""

    def __init__(self, spec: DeviceSpec, r: Any, catalog: Catalog, layer_s: float) -> None:

        cat = catalog.with_devices({spec.name: spec}, replace=True)
        config = load_experiment(_sim_config(spec, r, catalog)).fixed(None)
        self.plan = build_plan(config, catalog=cat, contention=False)
        if self.plan.infeasible:
            raise DseError([Problem(str(r.dataset), r.workload,
                                    f"{spec.name}: {self.plan.infeasible}")])
        self.units = {u.name for u in self.plan.units.values() if u.device == spec.name}
        self.layer_s = layer_s
        self.row = r

    def __call__(self, layer_s: float, overhead_s: float, driver_s: float,
                 slot_speedup: tuple[float, ...] | None = None) -> float:
        scale = layer_s / self.layer_s if self.layer_s > 0 else 1.0

        def step(st: Any) -> Any:
            if st.kind == "compute" and st.resource in self.units:
                return replace(st, time_s=overhead_s if st.what == "overhead"
                               else st.time_s * scale)
            if st.kind == "host" and st.what == "driver":
                return replace(st, time_s=driver_s)
            return st

        workers = tuple(replace(w, routes={k: tuple(replace(h, steps=tuple(
            step(st) for st in h.steps)) for h in route) for k, route in w.routes.items()})
            for w in self.plan.workers)
        units = self.plan.units
        if slot_speedup is not None:
            units = {n: replace(u, spec=u.spec.model_copy(update={"slot_speedup": slot_speedup}))
                     if n in self.units else u for n, u in units.items()}
        # the shared DRAM's law on the trial's demands, as the plan applies it
        workers = tuple(with_contention(workers, units, self.plan.dram_bw_bytes_s))
        result = Simulation(replace(self.plan, workers=workers, units=units)).run()
        return _metric(summarize(result), self.row.metric)


#: Parameters the fast path re-prices without re-running the cost model: they do not move
#: weights or layers between devices.
FAST = ("efficiency", "overhead_per_inference_s", "overhead_per_layer_s",
        "host_overhead_per_inference_s", "mem_bw_bytes_s", "peak_ops_s", "parallel_fraction",
        "slot_scaling", "power")


def _fast(path: str) -> bool:
    return any(path == f or path.startswith(f + ".") for f in FAST)


@dataclass(frozen=True)
class _Closed:
    """What the closed-loop law needs of a row's plan (read off the plan once)."""

    devices: int
    threads: int
    slots: int
    host_cores: int
    driven: bool
    links: int
    link_bw_bytes_s: float
    dram_bw_bytes_s: float | None
    dram_sharers: int = 1


class Forward:
    """Predictions of measurement rows for trial values of fitted parameters, fast.

    Args:
        specs: The datasheet spec of every target, by target key (the ``target`` column of
            ``rows``, else its ``device``); a single spec for rows of one device.
        rows: Validated measurements.
        free: The paths that will vary (only to decide whether the fast path applies: a path
            outside :data:`FAST`, such as ``onchip_mem_bytes``, moves weights, and sends every
            row through :func:`predict`).
        catalog: The catalog the rows' hosts, links and fallback CPUs come from.

    Calling it with trial values (spec paths -> value for one target, or target -> such a
    mapping) returns the prediction of every row, equal to :func:`predict` on the spec with
    those values applied (to 1e-9 for rows of one inference at a time; tested).
    """

    def __init__(self, specs: DeviceSpec | Mapping[str, DeviceSpec], rows: pd.DataFrame,
                 free: Sequence[str] | None = None, catalog: Catalog | None = None) -> None:
        catalog = catalog or default_catalog()
        if isinstance(specs, DeviceSpec):
            specs = {specs.name: specs}
        self.specs: dict[str, DeviceSpec] = dict(specs)
        self.names = list(self.specs)
        self.rows, self.catalog = rows, catalog
        keys = rows["target"] if "target" in rows else rows["device"]
        if len(self.names) == 1:
            keys = pd.Series(self.names * len(rows), index=rows.index)
        self.target_of = np.array([self.names.index(k) for k in keys], dtype=np.int64)
        n = len(rows)
        self.metric = rows["metric"].to_numpy()
        self.slow = list(range(n)) if free is not None and not all(_fast(p) for p in free) \
            else []
        self.mode = np.array(["single"] * n, dtype=object)
        self.transfer_s, self.fallback_s = np.zeros(n), np.zeros(n)
        self.transfer_bytes, self.device_traffic = np.zeros(n), np.zeros(n)
        self.threads = np.zeros(n)
        self.precision = rows["precision"].to_numpy()
        self.closed: dict[int, _Closed] = {}
        self.replays: dict[int, _Replay] = {}
        self.board_idle = np.array([_board_idle_w(r, catalog)
                                    for r in rows.itertuples(index=False)])
        parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                              ("ops", "traffic", "util", "kernel", "launch",
                                               "align", "cold", "row")}
        if self.slow:
            self._arrays(parts)
            return
        for i, r in enumerate(rows.itertuples(index=False)):
            spec = self.specs[self.names[self.target_of[i]]]
            mode = concurrency(spec, r) if r.metric in ("latency", "throughput") else "single"
            self.mode[i] = mode
            cost = _cost(spec, r, catalog)
            layers = cost.layers
            on = (layers["runs_on"] == spec.name).to_numpy()
            self.transfer_s[i] = cost.transfer_s
            self.transfer_bytes[i] = sum(seg.nbytes for seg in cost.segments
                                         if seg.kind == "transfer")
            self.fallback_s[i] = float(layers.loc[~on, "time_s"].sum())
            self.threads[i] = r.threads if _is_host_kind(spec) else 0
            self.device_traffic[i] = float(layers.loc[on, "traffic_bytes"].sum())
            parts["ops"].append(layers["ops"].to_numpy(dtype=float)[on])
            parts["traffic"].append(layers["traffic_bytes"].to_numpy(dtype=float)[on])
            parts["util"].append(layers["utilization"].to_numpy(dtype=float)[on])
            parts["kernel"].append(layers["kernel"].to_numpy(dtype=np.int64)[on])
            parts["launch"].append(layers["launches"].to_numpy(dtype=float)[on])
            parts["align"].append(layers["channel_align"].to_numpy(dtype=np.int64)[on])
            parts["cold"].append(layers["cold"].to_numpy(dtype=bool)[on])
            parts["row"].append(np.full(int(on.sum()), i, dtype=np.int64))
            if mode == "closed":
                self.closed[i] = _closed_shape(spec, r, catalog)
            elif mode == "sessions":
                placeholder = spec.with_changes(
                    "calibration placeholder",
                    overhead_per_inference_s=spec.overhead_per_inference_s or 1e-6)
                self.replays[i] = _Replay(placeholder, r, catalog,
                                          cost.device_s - spec.overhead_per_inference_s)
        self._arrays(parts)

    def _arrays(self, parts: dict[str, list[np.ndarray]]) -> None:
        def cat(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate(parts[name]).astype(dtype) if parts[name] else \
                np.zeros(0, dtype=dtype)

        self.ops, self.traffic = cat("ops", float), cat("traffic", float)
        self.util, self.launch = cat("util", float), cat("launch", float)
        self.kernel, self.row_of = cat("kernel", np.int64), cat("row", np.int64)
        self.align = cat("align", np.int64)
        self.cold = cat("cold", bool)
        self.layer_target = self.target_of[self.row_of]

    def layer_times(self, values: Mapping[str, Any] | None = None) -> np.ndarray:
        """Each device layer's time (the rows' layers concatenated, in ``row_of`` order)."""
        return self._times(self._per_target(values or {}))[0]

    def _per_target(self, values: Mapping[str, Any]) -> list[Mapping[str, float]]:
        if len(self.names) == 1 and not any(k in self.specs for k in values):
            return [values]
        return [values.get(name, {}) for name in self.names]

    def __call__(self, values: Mapping[str, Any]) -> np.ndarray:
        per = self._per_target(values)
        n = len(self.rows)
        out = np.empty(n)
        if self.slow:
            for t, name in enumerate(self.names):
                mask = self.target_of == t
                if mask.any():
                    out[mask] = predict(fitted_spec(self.specs[name], per[t]),
                                        self.rows[mask], catalog=self.catalog)
            return out
        layer_s, device_s, latency, specs, hov, ovi = self._times(per)
        layers_s = np.bincount(self.row_of, weights=layer_s, minlength=n)
        out[:] = np.where(self.metric == "throughput", 1.0 / latency, latency)
        return self._concurrent_and_power(out, per, specs, layers_s, device_s, latency, hov,
                                          ovi)

    def _times(self, per: list[Mapping[str, float]]) -> tuple[Any, ...]:
        n = len(self.rows)
        specs = [self.specs[name] for name in self.names]
        eff = np.stack([_efficiency_of(s, v) for s, v in zip(specs, per, strict=True)])
        bw = np.array([v.get("mem_bw_bytes_s", s.mem_bw_bytes_s) for s, v in
                       zip(specs, per, strict=True)])
        ovl = np.array([v.get("overhead_per_layer_s", s.overhead_per_layer_s) for s, v in
                        zip(specs, per, strict=True)])
        ovi = np.array([v.get("overhead_per_inference_s", s.overhead_per_inference_s)
                        for s, v in zip(specs, per, strict=True)])
        hov = np.array([0.0 if _is_host_kind(s) else
                        v.get("host_overhead_per_inference_s", s.host_overhead_per_inference_s)
                        for s, v in zip(specs, per, strict=True)])
        peak = np.empty(n)
        for i in range(n):
            t = self.target_of[i]
            spec, v = specs[t], per[t]
            p = self.precision[i]
            scale = 1.0
            if self.threads[i]:
                pf = v.get("parallel_fraction", spec.parallel_fraction)
                scale = amdahl_core_scale(spec.cores, int(self.threads[i]), pf)
            peak[i] = v.get(f"peak_ops_s.{p}", spec.peak_ops_s[p]) * scale
        lt, ro = self.layer_target, self.row_of
        peak_l, eff_l, bw_l, ovl_l = peak[ro], eff[lt, self.kernel], bw[lt], ovl[lt]
        modelled = np.zeros(len(lt), dtype=bool)
        cold_bw, cold_launch = np.full(len(lt), np.nan), np.zeros(len(lt))
        for t, spec in enumerate(specs):
            if not spec.kernel_models:
                continue
            # Kernel models price their classes as dse.cost.compute.layer_table does.
            on = lt == t
            terms = kernel_model_terms(spec.kernel_models, self.kernel[on], self.ops[on],
                                       self.threads[ro[on]], spec.cores, self.align[on])
            m = np.zeros(len(lt), dtype=bool)
            m[on] = terms.modelled
            p = self.precision[ro[m]]
            peak_l[m] = [per[t].get(f"peak_ops_s.{q}", spec.peak_ops_s[q]) for q in p]
            eff_l[m] = terms.efficiency[terms.modelled]
            ovl_l[m] = terms.launch_s[terms.modelled]
            own_bw = terms.mem_bw_bytes_s[terms.modelled]
            bw_l[m] = np.where(np.isnan(own_bw), bw_l[m], own_bw)
            if terms.cold_bw_bytes_s is not None and terms.cold_launch_s is not None:
                cold_bw[m] = terms.cold_bw_bytes_s[terms.modelled]
                cold_launch[m] = terms.cold_launch_s[terms.modelled]
            modelled |= m
        ops, traffic = unfolded(modelled, self.launch, self.ops, self.traffic)
        _, _, layer_s = roofline_times(
            ops, traffic, self.launch, peak_ops_s=peak_l,
            efficiency=eff_l * self.util, mem_bw_bytes_s=bw_l, overhead_per_kernel_s=ovl_l)
        # as dse.cost.compute.layer_table adds it: a model too large for the private caches
        layer_s = layer_s + np.where(self.cold, cold_times(traffic, cold_bw, cold_launch),
                                     0.0) * self.launch
        layers_s = np.bincount(self.row_of, weights=layer_s, minlength=n)
        slow = self._contention(specs, per, layers_s, bw)
        layer_s = layer_s * slow[ro]
        layers_s = layers_s * slow
        t_of = self.target_of
        device_s = layers_s + ovi[t_of]
        latency = self.transfer_s + self.fallback_s + device_s + hov[t_of]
        return layer_s, device_s, latency, specs, hov, ovi

    def _contention(self, specs: list[DeviceSpec], per: list[Mapping[str, float]],
                    layers_s: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """The slowdown of each row's device layers beside the other devices on its DRAM, as
        the plan times them (:meth:`dse.sim.context.PlanContext.with_contention`): ``sharers``
        identical devices run the row's model, each with the speed-up of its busy slots, all
        with the demand of one (traffic / layer time)."""
        slow = np.ones(len(layers_s))
        for i, c in self.closed.items():
            if c.dram_sharers <= 1 and min(c.slots, c.threads) <= 1:
                continue
            t = self.target_of[i]
            spec, v = specs[t], per[t]
            own = self.device_traffic[i] / layers_s[i] if layers_s[i] > 0 else 0.0
            busy = _speedup(spec, v, min(c.slots, c.threads))
            others = own * (c.dram_sharers * busy - 1.0)
            memory = c.dram_bw_bytes_s or bw[t]
            slow[i] = contention_slowdown(own, others, memory, **spec.contention_law())
        return slow

    def _concurrent_and_power(self, out: np.ndarray, per: list[Mapping[str, float]],
                              specs: list[DeviceSpec], layers_s: np.ndarray,
                              device_s: np.ndarray, latency: np.ndarray, hov: np.ndarray,
                              ovi: np.ndarray) -> np.ndarray:
        t_of = self.target_of
        for i, c in self.closed.items():
            t = t_of[i]
            spec, v = specs[t], per[t]
            capacity = _speedup(spec, v, min(c.slots, c.threads))
            core_s = hov[t] + self.fallback_s[i] + (device_s[i] if c.driven else 0.0)
            fps = float(closed_loop_throughput(
                np.array(latency[i]), np.array(device_s[i] + self.transfer_s[i]),
                np.array(core_s), threads=np.array(c.threads), devices=np.array(c.devices),
                capacity=np.array(capacity), host_cores=np.array(c.host_cores),
                link_s=np.array(self.transfer_bytes[i] / c.link_bw_bytes_s),
                links=np.array(c.links),
                dram_s=np.array(self.device_traffic[i] / c.dram_bw_bytes_s
                                if c.dram_bw_bytes_s else 0.0)))
            # Little's law: every thread keeps one frame in flight.
            out[i] = fps if self.metric[i] == "throughput" else c.devices * c.threads / fps
        for i, replay in self.replays.items():
            t = t_of[i]
            speedup = None
            if "slot_scaling" in per[t] and specs[t].slots > 1:
                speedup = linear_slot_speedup(specs[t].slots, per[t]["slot_scaling"])
            out[i] = replay(float(layers_s[i]), float(ovi[t]), float(hov[t]), speedup)
        power_rows = np.isin(self.metric, ["power", "energy"])
        if power_rows.any():
            active = np.array([v.get("power.active_w", s.power.active_w) for s, v in
                               zip(specs, per, strict=True)])[t_of]
            idle = np.array([v.get("power.idle_w", s.power.idle_w) for s, v in
                             zip(specs, per, strict=True)])[t_of]
            busy = np.clip(device_s / latency, 0.0, 1.0)
            power = active * busy + idle * (1 - busy) + self.board_idle
            out = np.where(self.metric == "power", power,
                           np.where(self.metric == "energy", power * latency, out))
        return out


def _efficiency_of(spec: DeviceSpec, values: Mapping[str, float]) -> np.ndarray:
    """The per-kernel-class efficiency of ``spec`` with fitted ``efficiency.*`` values, as
    :func:`fitted_spec` would hold it (fitted entries replace the spec's, the rest stay)."""
    table = dict(spec.efficiency)
    for path, value in values.items():
        if path.startswith("efficiency."):
            table[path.split(".", 1)[1]] = value
    return efficiency_vector(table)


def _speedup(spec: DeviceSpec, values: Mapping[str, float], busy: int) -> float:
    if "slot_scaling" in values and spec.slots > 1:
        return linear_slot_speedup(spec.slots, values["slot_scaling"])[max(1, min(busy,
                                                                                 spec.slots)) - 1]
    return spec.speedup(busy)


def _closed_shape(spec: DeviceSpec, r: Any, catalog: Catalog) -> _Closed:
    """The devices, threads, slots and host cores of a concurrent accelerator row's plan."""

    cat = catalog.with_devices({spec.name: spec}, replace=True)
    plan = build_plan(load_experiment(_sim_config(spec, r, catalog)).fixed(None), catalog=cat)
    if plan.infeasible:
        raise DseError([Problem(str(r.dataset), r.workload, f"{spec.name}: {plan.infeasible}")])
    units = [u for u in plan.units.values() if u.device == spec.name]
    workers = [w for w in plan.workers if w.unit in {u.name for u in units}]
    cluster = units[0].driver or next(iter(plan.clusters))
    links = {u.link for u in units if u.link}
    bandwidth = plan.links[next(iter(links))].bandwidth_bytes_s if links else float("inf")
    return _Closed(devices=len(units), threads=max(len(workers) // max(len(units), 1), 1),
                   slots=units[0].slots, host_cores=plan.cores[cluster],
                   driven=units[0].driver is not None, links=max(len(links), 1),
                   link_bw_bytes_s=bandwidth,
                   dram_bw_bytes_s=plan.dram_bw_bytes_s if units[0].shares_dram else None,
                   dram_sharers=sum(1 for u in units if u.shares_dram))
