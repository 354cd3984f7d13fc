"""Fitting device parameters to measurements, with honest (leave-one-model-out) error.

The forward model is dse itself: a single-device, one-at-a-time measurement is predicted by the
closed-form model cost (:func:`dse.cost.model_cost`); a multi-threaded or multi-device one by the
simulator, so concurrency parameters (slot scaling) calibrate too. The parameters the user frees
are fitted by bounded least squares in log space (``scipy.optimize.least_squares`` on
``log(predicted) - log(measured)``), so a 10% error weighs the same on a 1 ms and a 1 s model.
The datasheet spec is never changed: the result is an :class:`~dse.devices.overlay.Overlay`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from dse.cost import ModelCost, model_cost
from dse.cost.memory import no_pass
from dse.devices import Catalog, default_catalog
from dse.devices.overlay import FITTABLE, Overlay, apply_overlay
from dse.errors import DseError, Problem, SpecError
from dse.spec.device import DeviceSpec
from dse.workloads import Workload, workload

__all__ = ["DEFAULT_FREE", "Calibration", "Forward", "calibrate", "cross_validate", "default_free",
           "predict", "row_kind"]

#: Freed when the caller does not say: overall compute efficiency and a fixed cost per inference.
DEFAULT_FREE = ("efficiency.default", "overhead_per_inference_s")

#: Bounds of each fittable parameter (SI units).
BOUNDS: dict[str, tuple[float, float]] = {
    "efficiency": (1e-4, 1.0),
    "overhead_per_inference_s": (1e-7, 10.0),
    "overhead_per_layer_s": (1e-9, 1e-2),
    "host_overhead_per_inference_s": (1e-7, 10.0),
    "parallel_fraction": (1e-2, 1.0),
    "slot_scaling": (1e-3, 1.0),
    "mem_bw_bytes_s": (1e6, 1e13),
    "onchip_mem_bytes": (1.0, 1e10),
    "peak_ops_s": (1e6, 1e16),
    "power.active_w": (1e-4, 1e3),
    "power.idle_w": (1e-5, 1e3),
}


def _bounds(path: str) -> tuple[float, float]:
    for prefix, b in BOUNDS.items():
        if path == prefix or path.startswith(prefix + "."):
            return b
    raise DseError([Problem("--free", path, f"not fittable; fittable: "
                            f"{', '.join(p for p in FITTABLE if p != 'slot_speedup')}, "
                            f"slot_scaling (slot_speedup as 1 + (k - 1) x s)")])


def _value(spec: DeviceSpec, path: str) -> float:
    if path == "slot_scaling":
        s = spec.slot_speedup
        return 1.0 if s is None or spec.slots < 2 else (s[-1] - 1.0) / (spec.slots - 1)
    if path == "parallel_fraction" and spec.parallel_fraction is None:
        return 0.95
    node: Any = spec
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    if path.startswith("efficiency."):
        return spec.efficiency_for(path.split(".", 1)[1])
    return float(node) if node is not None else math.nan


def _is_cpu(spec: DeviceSpec) -> bool:
    return spec.kind == "cpu"


def _concurrent(spec: DeviceSpec, r: Any) -> bool:
    """Whether a row needs the simulator: several inferences in flight. On a CPU cluster,
    ``threads`` are the intra-op threads of one inference and ``streams`` the sessions in
    flight; on an accelerator, ``threads`` are host threads feeding it."""
    if _is_cpu(spec):
        return bool(r.streams > 1 or r.count > 1)
    return bool(r.policy != "single" or r.count > 1 or r.streams > 1)


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
    threads = int(r.threads) if _is_cpu(spec) else None
    cost = model_cost(w, spec, r.precision, fallback=fallback, link=link, threads=threads)
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
    if _is_cpu(spec):
        execution = {"policy": "threads", "threads": int(r.streams),
                     "intra_op_threads": int(r.threads)}
    else:
        execution = {"policy": r.policy if r.count == 1 else "data_parallel",
                     "threads": int(max(r.threads, r.streams))}
    return {"name": "calibration", "workload": {"zoo": r.workload, "precision": r.precision,
                                                "options": options},
            "platform": {"host": host, "accelerators": accelerators,
                         **({"link": r.link} if r.link else {})},
            "execution": {**execution, "devices": [spec.name]},
            "stream": {"frames": 60, "warmup": 10}}


def _simulated(spec: DeviceSpec, r: Any, catalog: Catalog) -> float:
    """A row with several inferences in flight, simulated: its throughput, or the median
    latency of one inference among the others."""
    from dse.sim import simulate

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
        from dse.sim.plan import build_plan
        from dse.spec.experiment import load_experiment

        cat = catalog.with_devices({spec.name: spec}, replace=True)
        config = load_experiment(_sim_config(spec, r, catalog)).fixed(None)
        self.plan = build_plan(config, catalog=cat)
        if self.plan.infeasible:
            raise DseError([Problem(str(r.dataset), r.workload,
                                    f"{spec.name}: {self.plan.infeasible}")])
        self.units = {u.name for u in self.plan.units.values() if u.device == spec.name}
        self.layer_s = layer_s
        self.row = r

    def __call__(self, layer_s: float, overhead_s: float, driver_s: float,
                 slot_speedup: tuple[float, ...] | None = None) -> float:
        from dataclasses import replace

        from dse.metrics import summarize
        from dse.sim.engine import Simulation

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
        result = Simulation(replace(self.plan, workers=workers, units=units)).run()
        return _metric(summarize(result), self.row.metric)


#: Parameters the closed-form fast path re-prices without re-running the cost model: they do not
#: move weights or layers between devices.
FAST = ("efficiency", "overhead_per_inference_s", "overhead_per_layer_s",
        "host_overhead_per_inference_s", "mem_bw_bytes_s", "peak_ops_s", "parallel_fraction",
        "slot_scaling", "power")


def overlay_values(spec: DeviceSpec, values: dict[str, float]) -> dict[str, Any]:
    """Fitted values as spec paths: ``slot_scaling`` s becomes ``slot_speedup`` 1 + (k-1) s."""
    out: dict[str, Any] = {k: v for k, v in values.items() if k != "slot_scaling"}
    if "slot_scaling" in values and spec.slots > 1:
        out["slot_speedup"] = [1.0 + k * values["slot_scaling"] for k in range(spec.slots)]
    return out


def _fast(path: str) -> bool:
    return any(path == f or path.startswith(f + ".") for f in FAST)


class Forward:
    """The forward model of a fit: predictions of ``rows`` for values of the ``free`` paths.

    Single-inference rows are priced once with the datasheet spec; a layer's time on the device,
    ``max(ops / (peak x core_scale x efficiency), traffic / bandwidth) + overhead``, is then
    re-evaluated with numpy for every trial value, and everything else (transfers, fallback
    layers on the host) kept. That is the same arithmetic as :func:`dse.cost.model_cost`
    (checked in the tests), about a thousand times faster. Rows the simulator must predict
    (several inferences in flight) replay a plan built once (:class:`_Replay`); parameters that
    move weights (``onchip_mem_bytes``) send every row through :func:`predict` each time.
    """

    def __init__(self, spec: DeviceSpec, rows: pd.DataFrame, free: Sequence[str],
                 catalog: Catalog) -> None:
        self.spec, self.rows, self.free, self.catalog = spec, rows, tuple(free), catalog
        fast_ok = all(_fast(p) for p in self.free)
        self.slow: list[int] = []
        ops, traffic, mask, cls, row_of, prec = [], [], [], [], [], []
        self.fixed = np.zeros(len(rows))
        self.threads = np.zeros(len(rows))
        self.metric = rows["metric"].to_numpy()
        self.classes: list[str] = []
        self.precisions: list[str] = []
        self.replays: dict[int, _Replay] = {}
        # Plans of concurrent rows are built with placeholder overheads so that their overhead
        # and driver steps exist to be re-timed.
        placeholder = spec.with_changes(
            "calibration placeholder", overhead_per_inference_s=spec.overhead_per_inference_s
            or 1e-6, **({} if _is_cpu(spec) else {
                "host_overhead_per_inference_s": spec.host_overhead_per_inference_s or 1e-6}))
        for i, r in enumerate(rows.itertuples(index=False)):
            replay = _concurrent(spec, r) and r.metric in ("latency", "throughput")
            if not fast_ok:
                self.slow.append(i)
                continue
            cost = _cost(spec, r, catalog)
            if replay:
                self.replays[i] = _Replay(placeholder, r, catalog,
                                          cost.device_s - spec.overhead_per_inference_s)
            layers = cost.layers
            on = (layers["runs_on"] == spec.name).to_numpy()
            device_s = cost.device_s
            driver = sum(seg.time_s for seg in cost.segments if seg.what == "driver")
            self.fixed[i] = cost.time_s - device_s - driver
            self.threads[i] = r.threads if _is_cpu(spec) else 0
            n = int(on.sum())
            ops.append(layers["ops"].to_numpy(dtype=float)[on])
            traffic.append(layers["traffic_bytes"].to_numpy(dtype=float)[on])
            mask.append(~no_pass(_workload(r).counts).astype(bool)[on])  # layers with overhead
            for c in layers["op_class"].to_numpy()[on]:
                if c not in self.classes:
                    self.classes.append(c)
            cls.append(np.array([self.classes.index(c) for c in layers["op_class"][on]],
                                dtype=int))
            row_of.append(np.full(n, i))
            if r.precision not in self.precisions:
                self.precisions.append(r.precision)
            prec.append(self.precisions.index(r.precision))
        self.fast_rows = np.array([i for i in range(len(rows)) if i not in set(self.slow)],
                                  dtype=int)
        cat = np.concatenate if ops else (lambda _: np.zeros(0))
        self.ops, self.traffic = cat(ops), cat(traffic)
        self.mask = cat(mask).astype(float) if mask else np.zeros(0)
        self.cls = cat(cls).astype(int) if cls else np.zeros(0, dtype=int)
        self.row_of = cat(row_of).astype(int) if row_of else np.zeros(0, dtype=int)
        self.prec_of_row = np.zeros(len(rows), dtype=int)
        self.prec_of_row[self.fast_rows] = prec
        self.has_power = bool(np.isin(self.metric, ["power", "energy"]).any())
        self.board_idle = np.array([_board_idle_w(r, catalog)
                                    for r in rows.itertuples(index=False)])

    def __call__(self, values: dict[str, float]) -> np.ndarray:
        out = np.empty(len(self.rows))
        if self.slow:
            out[self.slow] = predict(_fitted(self.spec, values), self.rows.iloc[self.slow],
                                     catalog=self.catalog)
        if not len(self.fast_rows):
            return out
        spec = self.spec
        eff = dict(spec.efficiency)
        for p, v in values.items():
            if p.startswith("efficiency."):
                eff[p.split(".", 1)[1]] = v
        default = eff.get("default", 1.0)
        eff_cls = np.array([eff.get(c, default) for c in self.classes] or [1.0])
        peaks = np.array([values.get(f"peak_ops_s.{p}", spec.peak_ops_s[p])
                          for p in self.precisions] or [1.0])
        bw = values.get("mem_bw_bytes_s", spec.mem_bw_bytes_s)
        ovl = values.get("overhead_per_layer_s", spec.overhead_per_layer_s)
        ovi = values.get("overhead_per_inference_s", spec.overhead_per_inference_s)
        scale = np.ones(len(self.rows))
        if _is_cpu(spec):
            pf = values.get("parallel_fraction", spec.parallel_fraction)
            probe = spec if pf == spec.parallel_fraction else spec.model_copy(
                update={"parallel_fraction": pf})
            scale = np.array([probe.core_scale(int(t) or None) for t in self.threads])
        peak_layer = peaks[self.prec_of_row[self.row_of]] * scale[self.row_of]
        with np.errstate(divide="ignore", invalid="ignore"):
            compute = np.where(self.ops > 0, self.ops / (peak_layer * eff_cls[self.cls]), 0.0)
        layer_s = np.maximum(compute, self.traffic / bw) + ovl * self.mask
        layers_s = np.bincount(self.row_of, weights=layer_s, minlength=len(self.rows))
        device_s = layers_s + ovi
        hov = values.get("host_overhead_per_inference_s", spec.host_overhead_per_inference_s)
        speedup = None
        if "slot_scaling" in values and spec.slots > 1:
            speedup = tuple(1.0 + k * values["slot_scaling"] for k in range(spec.slots))
        for i, replay in self.replays.items():
            out[i] = replay(float(layers_s[i]), ovi, hov, speedup)
        latency = self.fixed + device_s + (0.0 if _is_cpu(spec) else hov)
        f = self.fast_rows
        metric = self.metric[f]
        res = np.where(metric == "throughput", 1.0 / latency[f], latency[f])
        replayed = np.isin(f, list(self.replays))
        res[replayed] = out[f[replayed]]
        if self.has_power:
            active = values.get("power.active_w", spec.power.active_w)
            idle = values.get("power.idle_w", spec.power.idle_w)
            busy = np.clip(device_s[f] / latency[f], 0.0, 1.0)
            power = active * busy + idle * (1 - busy) + self.board_idle[f]
            res = np.where(metric == "power", power,
                           np.where(metric == "energy", power * latency[f], res))
        out[f] = res
        return out


@dataclass
class Calibration:
    """A fit of one device: the overlay, the per-point table, and the honest error.

    Attributes:
        overlay: Fitted values with provenance (apply with :func:`apply_overlay`).
        table: Per measurement: workload, metric, measured, predicted, relative error, and a 90%
            prediction interval (delta method on the fit's covariance plus the residual spread).
        mape: In-sample mean absolute percentage error (flattering; see ``cv``).
        within_10: In-sample share of points within +-10%.
        cv: Leave-one-model-out table (predicted by a fit that did not see that model), or
            ``None`` if not run.
    """

    device: str
    free: tuple[str, ...]
    overlay: Overlay
    table: pd.DataFrame
    mape: float
    within_10: float
    uncertainty: dict[str, float]
    cv: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cv_mape(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(self.cv["abs_error"].mean())

    @property
    def cv_within_10(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(
            (self.cv["abs_error"] <= 0.10).mean())

    def overlay_yaml(self) -> str:
        """The overlay as YAML text (``dse devices show NAME --overlay FILE`` reads it)."""
        import yaml

        return yaml.safe_dump(self.overlay.model_dump(mode="json"), sort_keys=False)


def _fit(spec: DeviceSpec, rows: pd.DataFrame, free: Sequence[str], catalog: Catalog
         ) -> tuple[dict[str, float], np.ndarray, Any]:
    lo = np.log([_bounds(p)[0] for p in free])
    hi = np.log([_bounds(p)[1] for p in free])
    start = []
    for p, a, b in zip(free, lo, hi, strict=True):
        v = _value(spec, p)
        v = 1e-4 if not math.isfinite(v) or v <= 0 else v
        start.append(min(max(math.log(v), a + 1e-6), b - 1e-6))
    measured = np.log(rows["value_si"].to_numpy(dtype=float))

    forward = Forward(spec, rows, free, catalog)

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(forward(dict(zip(free, np.exp(x).tolist(), strict=True)))) - measured

    res = least_squares(residuals, np.array(start), bounds=(lo, hi), diff_step=1e-3,
                        x_scale="jac", max_nfev=200)
    return dict(zip(free, np.exp(res.x).tolist(), strict=True)), res.fun, res


def _fitted(spec: DeviceSpec, values: dict[str, float]) -> DeviceSpec:
    return apply_overlay(spec, Overlay(device=spec.name, values=overlay_values(spec, values)),
                         label="fit")


def default_free(spec: DeviceSpec, rows: pd.DataFrame) -> tuple[str, ...]:
    """The parameters freed when the caller does not say, chosen by what the data can tell.

    Always the overall efficiency and a fixed cost per inference (:data:`DEFAULT_FREE`). Then:
    on a CPU cluster measured at more than one thread count, its ``parallel_fraction``; on an
    accelerator measured with several host threads, the host's share of each inference
    (``host_overhead_per_inference_s``), which those threads overlap with the device; on a
    device with several slots measured with several in flight, ``slot_scaling``; with power or
    energy rows, ``power.active_w``.
    """
    free = list(DEFAULT_FREE)
    timing = rows[rows["metric"].isin(["latency", "throughput"])]
    if _is_cpu(spec):
        if timing["threads"].nunique() > 1 and (spec.cores or 1) > 1:
            free.append("parallel_fraction")
    elif ((timing["threads"] > 1) | (timing["streams"] > 1)).any():
        free.append("host_overhead_per_inference_s")
        if spec.slots > 1:
            free.append("slot_scaling")
    if rows["metric"].isin(["power", "energy"]).any():
        free.append("power.active_w")
    return tuple(free)


def _rows_for(measurements: pd.DataFrame, spec: DeviceSpec, free: Sequence[str] | None
              ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    rows = measurements[measurements["device"] == spec.name].reset_index(drop=True)
    chosen = tuple(free) if free is not None else default_free(spec, rows)
    for p in chosen:
        _bounds(p)
    power_free = [p for p in chosen if p.startswith("power.")]
    metrics = ["latency", "throughput"] + (["power", "energy"] if power_free else [])
    rows = rows[rows["metric"].isin(metrics)].reset_index(drop=True)
    timing = int(rows["metric"].isin(["latency", "throughput"]).sum())
    problems = []
    n_time_free = len(chosen) - len(power_free)
    if timing < n_time_free + 1:
        problems.append(Problem(spec.name, "measurements", f"{timing} latency/throughput "
                                f"points for {n_time_free} free parameters; need at least "
                                f"{n_time_free + 1}"))
    n_power = len(rows) - timing
    if power_free and n_power < len(power_free):
        problems.append(Problem(spec.name, "measurements", f"{n_power} power/energy points "
                                f"for {len(power_free)} free power parameters; need at least "
                                f"{len(power_free)}"))
    if problems:
        raise DseError(problems)
    return rows, chosen


def calibrate(measurements: pd.DataFrame, *, device: str | DeviceSpec,
              free: Sequence[str] | None = None, catalog: Catalog | None = None,
              cross_validation: bool = True) -> Calibration:
    """Fit the freed parameters of ``device`` to its rows of ``measurements``.

    Args:
        measurements: Validated measurements (:func:`dse.calibrate.read_measurements` or a
            loader); rows of other devices are ignored.
        device: Catalog device name (or spec).
        free: Spec paths to fit (``efficiency.default``, ``efficiency.conv``,
            ``overhead_per_inference_s``, ``host_overhead_per_inference_s``,
            ``mem_bw_bytes_s``, ``parallel_fraction``, ``slot_scaling``, ``power.active_w``,
            ...); default: :func:`default_free`. Power and energy rows are used only when a
            ``power.*`` path is free.
        catalog: Device catalog (default: the built-in one).
        cross_validation: Also run leave-one-model-out cross-validation.

    Raises:
        DseError: Unknown device or parameter, or fewer points than free parameters.
    """
    catalog = catalog or default_catalog()
    spec = catalog.device(device)
    rows, free = _rows_for(measurements, spec, free)
    values, residual, res = _fit(spec, rows, free, catalog)
    n, k = len(rows), len(free)
    dof = max(n - k, 1)
    s2 = float(residual @ residual) / dof
    jac = res.jac
    try:
        cov = np.linalg.pinv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    sigma_log = {k: float(math.sqrt(max(cov[i, i], 0.0))) for i, k in enumerate(free)}
    fitted = _fitted(spec, values)
    predicted = predict(fitted, rows, catalog=catalog)
    rel = predicted / rows["value_si"].to_numpy() - 1.0
    # 90% prediction interval in log space: parameter uncertainty (delta method) + scatter.
    var = np.einsum("ij,jk,ik->i", jac, cov, jac) + s2
    half = 1.645 * np.sqrt(np.maximum(var, 0.0))
    table = pd.DataFrame({
        "workload": rows["workload"], "options": rows["options"], "metric": rows["metric"],
        "policy": rows["policy"], "threads": rows["threads"], "streams": rows["streams"],
        "count": rows["count"], "host": rows["host"], "link": rows["link"],
        "measured": rows["value_si"], "predicted": predicted, "rel_error": rel,
        "abs_error": np.abs(rel), "low_90": predicted * np.exp(-half),
        "high_90": predicted * np.exp(half)})
    datasets = sorted(set(rows["dataset"]))
    overlay = Overlay(device=spec.name, values=overlay_values(spec, values), provenance={
        "method": "bounded least squares in log space (scipy.optimize.least_squares)",
        "free": list(free), "fitted": values,
        "data": ", ".join(datasets), "points": n, "fitted_on": _dt.date.today().isoformat(),
        "uncertainty_log_sd": sigma_log, "in_sample_mape": float(np.mean(np.abs(rel))),
    })
    cal = Calibration(spec.name, free, overlay, table, float(np.mean(np.abs(rel))),
                      float(np.mean(np.abs(rel) <= 0.10)), sigma_log)
    if cross_validation:
        cal.cv = cross_validate(rows, spec, free, catalog)
        if cal.cv_mape is not None:
            overlay.provenance["loo_model_mape"] = cal.cv_mape
    return cal


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


def cross_validate(rows: pd.DataFrame, spec: DeviceSpec, free: Sequence[str] | None,
                   catalog: Catalog) -> pd.DataFrame:
    """Leave-one-model-out: each model's rows predicted by a fit on the other models only.

    ``free=None`` chooses with :func:`default_free` on all the rows, so every fold fits the same
    parameters. Models whose leaving would leave too few points are skipped.
    """
    free = tuple(free) if free is not None else default_free(spec, rows)
    rows, free = _rows_for(rows, spec, free)
    keys = rows["workload"] + rows["options"]
    kinds = row_kind(spec, rows)
    out = []
    for key in sorted(set(keys)):
        train, test = rows[keys != key], rows[keys == key]
        try:
            train, _ = _rows_for(train, spec, free)
        except DseError:
            continue
        values, _, _ = _fit(spec, train, free, catalog)
        predicted = predict(_fitted(spec, values), test, catalog=catalog)
        rel = predicted / test["value_si"].to_numpy() - 1.0
        out.append(pd.DataFrame({"workload": test["workload"], "metric": test["metric"],
                                 "kind": kinds[(keys == key).to_numpy()],
                                 "threads": test["threads"], "count": test["count"],
                                 "measured": test["value_si"], "predicted": predicted,
                                 "rel_error": rel, "abs_error": np.abs(rel)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["workload", "metric", "kind", "threads", "count", "measured", "predicted",
                 "rel_error", "abs_error"])
