"""The host target's per-kernel predictor: the cost model's kernel models fitted on kernel times.

``dse host kernels`` times hundreds of small ONNX graphs (one conv, one depthwise, one FC, an
attention block, ...) with ONNX Runtime, per node (the profiler) and per ``run()`` call. This
module fits the cost model's per-kernel-class laws (:class:`dse.spec.device.KernelModel`: an
efficiency and an Amdahl parallel fraction piecewise linear over ``log10(ops)``, a launch cost)
to the *node* times of those kernels, and the per-inference ``run()`` overhead to their
run-minus-node times, and writes both as an overlay of the ``host`` device. Whole models are
then predicted by the one cost model (:func:`dse.cost.model_cost` with ONNX Runtime's fusions),
never fitted on.

Every kernel goes through the same path as a whole model: its ONNX graph becomes a dse workload,
:func:`dse.cost.model_cost` prices it with ONNX Runtime's fusions (so its layers, kernel classes,
traffic and launches are the ones a zoo model's layers get), and the fit re-times those layers
with :func:`dse.cost.compute.kernel_model_terms` and :func:`dse.cost.compute.roofline_times`,
the functions :func:`dse.cost.compute.layer_table` calls.

Each kernel is timed warm (run after run) and cold (its caches swept first); the fit takes
both, so the models carry what a layer pays when its bytes are not in the core's caches, which
``layer_table`` adds for a model too large for them.

The fit is least squares on log time, with a smoothness penalty on the knot values (second
differences) and a weak pull of every class towards the all-class mean, so a class with few
kernels borrows from the others instead of following noise. The form (knot spacing, penalty)
is chosen by leave-out error on the kernels (:func:`cross_validate`), never on the zoo.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from dse.cost import model_cost
from dse.cost.compute import (
    channel_alignment,
    cold_layers,
    cold_times,
    kernel_model_terms,
    private_cache_bytes,
    roofline_times,
)
from dse.cost.layers import runtime_counts
from dse.cost.memory import activation_bytes, weight_read_bytes
from dse.devices.kinds import device_kind
from dse.devices.overlay import Overlay
from dse.errors import DseError, Problem
from dse.spec.device import DeviceSpec, KernelModel, max_efficiency, max_kernel_efficiency
from dse.spec.runtime import RuntimeSpec
from dse.workloads import Workload
from dse.workloads.kernels import KERNEL_CLASSES

__all__ = ["FitOptions", "KernelData", "KernelFit", "channel_block", "cross_validate",
           "errors_by_threads",
           "fit_kernels", "fitted_host", "host_device", "kernel_data", "kernel_graph",
           "load_kernel_data", "macs_proxy", "overlay_of", "predict_kernel_times",
           "proxy_times", "read_kernel_rows", "summarize", "unseen_shapes", "zoo_table"]

_NAMES = list(KERNEL_CLASSES)


@dataclass(frozen=True)
class KernelData:
    """Kernel timings with the cost model's view of each kernel's layers.

    Attributes:
        rows: One row per (kernel, threads): ``key`` (the kernel), ``family``, ``source``
            (``zoo:<model>``, ``random``, ``adaptive``), ``threads``, ``node_s`` (median sum of
            the profiled node times of one run), ``layout_s`` (the part of ``node_s`` in
            layout conversions: a lone NCHWc kernel converts its input and output, a layer
            inside a model does not), ``run_s`` (median ``run()`` time), ``nodes`` (kernels
            the cost model launches), ``ops`` and ``macs``.
        layers: One row per launched layer: ``row`` (index into ``rows``), ``kernel`` (class
            index), ``ops``, ``traffic`` (bytes), ``util`` (tile utilisation).
    """

    rows: pd.DataFrame
    layers: pd.DataFrame

    @property
    def measured_s(self) -> np.ndarray:
        """What the kernel models and the ``run()`` overhead account for: ``run()`` time
        without the layout conversions a lone kernel pays and a layer inside a model does not.
        Their share is the profiler's (``layout_s / node_s``): the profiler adds about the
        same to every node it times, several microseconds on a multi-threaded node, so the
        profiled conversion time of a microsecond kernel can exceed its whole ``run()``,
        while its share stays below one."""
        run = self.rows["run_s"].to_numpy(dtype=float)
        return run * (1.0 - self.layout_share())

    @property
    def cold(self) -> bool:
        """Whether the rows have cold-cache times (``cold_s``)."""
        return "cold_s" in self.rows

    @property
    def measured_cold_s(self) -> np.ndarray:
        """:attr:`measured_s` of the cold-cache ``run()`` times (``cold_s``)."""
        return self.rows["cold_s"].to_numpy(dtype=float) * (1.0 - self.layout_share())

    def layout_share(self) -> np.ndarray:
        """Per row, the profiler's share of layout conversions in the kernel time (at most
        0.9; 0 without ``layout_s``)."""
        if "layout_s" not in self.rows:
            return np.zeros(len(self.rows))
        node = self.rows["node_s"].to_numpy(dtype=float)
        return np.clip(self.rows["layout_s"].to_numpy(dtype=float) / node, 0.0, 0.9)

    def subset(self, mask: np.ndarray) -> KernelData:
        """The rows where ``mask`` holds, with their layers (renumbered)."""
        keep = np.flatnonzero(mask)
        new = -np.ones(len(self.rows), dtype=np.int64)
        new[keep] = np.arange(len(keep))
        layers = self.layers[mask[self.layers["row"].to_numpy()]].copy()
        layers["row"] = new[layers["row"].to_numpy()]
        return KernelData(self.rows.iloc[keep].reset_index(drop=True),
                          layers.reset_index(drop=True))


def kernel_data(rows: pd.DataFrame, graph_of: Callable[[Any], Workload], device: DeviceSpec,
                runtime: RuntimeSpec | None) -> KernelData:
    """Price every kernel's graph with the cost model once (the layers the fit re-times).

    Args:
        rows: ``key``, ``family``, ``source``, ``threads``, ``node_s``, ``run_s`` per row, and
            whatever ``graph_of`` reads.
        graph_of: A row -> the kernel's workload graph (built from its spec).
        device: The host device (its datasheet values; only shapes and traffic are kept).
        runtime: ONNX Runtime's spec (its fusions).
    """
    graphs: dict[Any, tuple[pd.DataFrame, float]] = {}
    parts = []
    nodes, ops, macs = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.key not in graphs:
            w = graph_of(r)
            cost = model_cost(w, device, "fp32", threads=1, runtime=runtime)
            if not cost.feasible:
                raise DseError([Problem("kernels", str(r.key), cost.reason)])
            counts = runtime_counts(w, runtime)
            # every byte the layer touches, as layer_table counts it for a modelled class
            touched = activation_bytes(counts, "fp32") + weight_read_bytes(counts, "fp32")
            launched = cost.layers["launches"].to_numpy() > 0
            t = cost.layers[launched]
            graphs[r.key] = (pd.DataFrame({
                "kernel": t["kernel"].to_numpy(dtype=np.int64),
                "ops": t["ops"].to_numpy(dtype=float),
                "traffic": touched[launched],
                "util": t["utilization"].to_numpy(dtype=float),
                "align": channel_alignment(counts)[launched]}), float(w.macs))
        table, m = graphs[r.key]
        parts.append(table.assign(row=i))
        nodes[i], ops[i], macs[i] = len(table), table["ops"].sum(), m
    layers = pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame(columns=["kernel", "ops", "traffic", "util", "align", "row"])
    return KernelData(rows.reset_index(drop=True).assign(
        nodes=nodes, ops=ops, macs=macs), layers)


@dataclass(frozen=True)
class FitOptions:
    """The form of the kernel models.

    Attributes:
        knot_step: Spacing of the knots in log10(ops) (a class's knots span its kernels).
        smooth: Weight of the penalty on changes of slope of log efficiency and logit
            parallel fraction between knots.
        pull: Weight pulling every class's log efficiency towards a tenth of its ceiling
            (decides only where the data do not).
        class_bandwidth: Free a memory bandwidth per class (else the device's).
        thread_scaling: ``size`` (a parallel fraction per knot), ``class`` (one per class).
        target: ``run`` (fit overhead + layers to ``run()`` times) or ``node`` (layers to the
            profiled node times).
        shared_launch: One launch cost for every class (else one per class). A single-node
            kernel cannot tell its class's launch cost from the ``run()`` overhead; kernels of
            several nodes (squeeze-excite, attention) tell a launch shared by all classes.
        channel_block: Fit an efficiency factor for layers whose channels are not multiples
            of the runtime's channel block (:func:`channel_block`), per class that has both.
    """

    knot_step: float = 1.0
    smooth: float = 1.0
    pull: float = 0.05
    class_bandwidth: bool = True
    thread_scaling: str = "size"
    target: str = "run"
    shared_launch: bool = True
    channel_block: bool = True


@dataclass(frozen=True)
class KernelFit:
    """Fitted kernel models, the per-inference overhead and the fit's own error.

    Attributes:
        models: Kernel class -> model (as :attr:`DeviceSpec.kernel_models` holds it).
        overhead_per_inference_s: The fixed cost of one ``run()`` call.
        table: Per row: ``key``, ``family``, ``source``, ``threads``, ``measured_s`` (the
            ``run()`` time), ``predicted_s`` (overhead + layers).
        options: The form fitted.
    """

    models: dict[str, KernelModel]
    overhead_per_inference_s: float
    table: pd.DataFrame
    options: FitOptions
    cost: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Layout:
    """Where each class's parameters are in the parameter vector."""

    classes: list[str]
    knots: dict[str, np.ndarray]
    eff: dict[str, slice]
    par: dict[str, slice]
    launch: dict[str, int]
    bw: dict[str, int]
    size: int
    launch_thread: dict[str, int] = field(default_factory=dict)
    bw_par: dict[str, int] = field(default_factory=dict)
    unaligned: dict[str, int] = field(default_factory=dict)
    block: int = 1
    cold: dict[str, int] = field(default_factory=dict)
    cold_launch: int = -1


def _layout(data: KernelData, options: FitOptions) -> _Layout:
    kernels = data.layers["kernel"].to_numpy()
    x = np.log10(np.maximum(data.layers["ops"].to_numpy(), 1.0))
    classes = [_NAMES[k] for k in sorted(set(kernels.tolist()))]
    knots: dict[str, np.ndarray] = {}
    eff: dict[str, slice] = {}
    par: dict[str, slice] = {}
    launch: dict[str, int] = {}
    launch_thread: dict[str, int] = {}
    bw: dict[str, int] = {}
    bw_par: dict[str, int] = {}
    unaligned: dict[str, int] = {}
    cold: dict[str, int] = {}
    align = data.layers["align"].to_numpy(dtype=np.int64) if "align" in data.layers else \
        np.full(len(kernels), 64)
    block = channel_block(data) if options.channel_block else 1
    i = 0
    step = options.knot_step
    for name in classes:
        xs = x[kernels == _NAMES.index(name)]
        lo, hi = np.floor(xs.min() / step) * step, np.ceil(xs.max() / step) * step
        k = np.arange(lo, hi + step / 2, step) if hi > lo else np.array([lo])
        knots[name] = k
        eff[name] = slice(i, i + len(k))
        i += len(k)
        n_par = len(k) if options.thread_scaling == "size" else 1
        par[name] = slice(i, i + n_par)
        i += n_par
        if options.shared_launch and launch:
            launch[name] = next(iter(launch.values()))
            launch_thread[name] = next(iter(launch_thread.values()))
        else:
            launch[name], launch_thread[name] = i, i + 1
            i += 2
        if options.class_bandwidth:
            bw[name], bw_par[name] = i, i + 1
            i += 2
        mine = align[kernels == _NAMES.index(name)]
        if block > 1 and (mine % block != 0).any() and (mine % block == 0).any():
            unaligned[name] = i
            i += 1
        if data.cold:
            cold[name] = i
            i += 1
    cold_launch = -1
    if data.cold:  # one for every class, as the launch cost
        cold_launch, i = i, i + 1
    return _Layout(classes, knots, eff, par, launch, bw, i, launch_thread, bw_par, unaligned,
                   block, cold, cold_launch)


def _curve(theta: np.ndarray, cut: slice) -> np.ndarray:
    """Knot values from a first value and non-negative increments (monotone in ops)."""
    return np.cumsum(theta[cut])


def _models(theta: np.ndarray, layout: _Layout, *, construct: bool = True
            ) -> dict[str, KernelModel]:
    out = {}
    for name in layout.classes:
        k = layout.knots[name]
        p = 1.0 / (1.0 + np.exp(-_curve(theta, layout.par[name])))
        if len(p) != len(k):
            p = np.full(len(k), p[0])
        values: dict[str, Any] = {"log10_ops": tuple(float(v) for v in k),
                  "efficiency": tuple(float(v) for v in np.minimum(
                      np.exp(_curve(theta, layout.eff[name])), max_kernel_efficiency(name))),
                  "parallel_fraction": tuple(float(v) for v in p),
                  "launch_s": float(np.exp(theta[layout.launch[name]])),
                  "launch_per_thread_s": float(np.exp(theta[layout.launch_thread[name]])),
                  "mem_bw_bytes_s": float(np.exp(theta[layout.bw[name]]))
                  if name in layout.bw else None,
                  "mem_parallel_fraction": float(1.0 / (1.0 + np.exp(
                      -theta[layout.bw_par[name]]))) if name in layout.bw_par else 0.0,
                  "cold_bw_bytes_s": float(np.exp(theta[layout.cold[name]]))
                  if name in layout.cold else None,
                  "cold_launch_s": float(np.exp(theta[layout.cold_launch]))
                  if layout.cold_launch >= 0 else 0.0,
                  "channel_block": layout.block if name in layout.unaligned else 1,
                  "unaligned_efficiency": float(np.exp(theta[layout.unaligned[name]]))
                  if name in layout.unaligned else 1.0}
        out[name] = KernelModel(**values) if construct else KernelModel.model_construct(**values)
    return out


def predict_kernel_times(models: Mapping[str, KernelModel], data: KernelData,
                         device: DeviceSpec, *, precision: str = "fp32") -> np.ndarray:
    """Node time of every kernel row under ``models`` (seconds): the sum of its layers'
    :func:`roofline_times`, as :func:`dse.cost.compute.layer_table` prices them.

    Layers of a class without a model get the class's efficiency on the device's Amdahl
    scaling (as :func:`~dse.cost.compute.layer_table` does for them)."""
    layers = data.layers
    kernels = layers["kernel"].to_numpy(dtype=np.int64)
    ops = layers["ops"].to_numpy(dtype=float)
    row = layers["row"].to_numpy(dtype=np.int64)
    threads = data.rows["threads"].to_numpy(dtype=float)[row]
    align = layers["align"].to_numpy(dtype=np.int64) if "align" in layers else None
    terms = kernel_model_terms(models, kernels, ops, threads, device.cores, align)
    peak = device.peak_ops_s[precision]
    util = layers["util"].to_numpy(dtype=float)
    if not terms.modelled.all():
        from dse.cost.compute import efficiency_vector

        base = efficiency_vector(device)[kernels]
        scale = np.array([device_kind(device.kind).thread_scale(device, int(t)) for t in threads])
        eff = np.where(terms.modelled, terms.efficiency, base * scale)
        launch = np.where(terms.modelled, terms.launch_s, device.overhead_per_layer_s)
    else:
        eff, launch = terms.efficiency, terms.launch_s
    bw = np.where(np.isnan(terms.mem_bw_bytes_s), device.mem_bw_bytes_s, terms.mem_bw_bytes_s)
    _, _, layer_s = roofline_times(ops, layers["traffic"].to_numpy(dtype=float),
                                   np.ones(len(ops)), peak_ops_s=peak, efficiency=eff * util,
                                   mem_bw_bytes_s=bw, overhead_per_kernel_s=launch)
    return np.bincount(row, weights=layer_s, minlength=len(data.rows))


def cold_extra_times(models: Mapping[str, KernelModel], data: KernelData,
                     device: DeviceSpec | None = None) -> np.ndarray:
    """What every kernel row pays beyond its warm time: the sum of its layers'
    :func:`dse.cost.compute.cold_times`, as ``layer_table`` adds them for a model too large for
    the private caches (``device=None``: the cold runs), or, given the ``device``, for the
    warm runs: only its layers whose own bytes do not fit the cores' private caches
    (:func:`dse.cost.compute.cold_layers`)."""
    layers = data.layers
    kernels = layers["kernel"].to_numpy(dtype=np.int64)
    cold, fixed = np.full(len(layers), np.nan), np.zeros(len(layers))
    for name, model in models.items():
        if model.cold_bw_bytes_s is not None:
            cold[kernels == _NAMES.index(name)] = model.cold_bw_bytes_s
            fixed[kernels == _NAMES.index(name)] = model.cold_launch_s
    traffic = layers["traffic"].to_numpy(dtype=float)
    row = layers["row"].to_numpy(dtype=np.int64)
    extra = cold_times(traffic, cold, fixed)
    if device is not None:
        threads = data.rows["threads"].to_numpy(dtype=float)[row]
        extra = np.where(cold_layers(traffic, True, private_cache_bytes(device, threads)),
                         extra, 0.0)
    return np.bincount(row, weights=extra, minlength=len(data.rows))


def _penalties(theta: np.ndarray, layout: _Layout, options: FitOptions) -> np.ndarray:
    out = []
    for name in layout.classes:
        e, p = theta[layout.eff[name]], theta[layout.par[name]]
        # changes of slope between knots (the increments are the slopes)
        out.append(options.smooth * np.diff(e[1:]) if len(e) > 2 else np.zeros(0))
        out.append(0.3 * options.smooth * np.diff(p[1:]) if len(p) > 2 else np.zeros(0))
        # weak pulls where the data say nothing (a class measured at one size or one thread
        # count): efficiency towards a tenth of the class's ceiling, p towards 0.5
        out.append(options.pull * (_curve(theta, layout.eff[name])
                                   - np.log(0.1 * max_efficiency(name))))
        out.append(0.01 * _curve(theta, layout.par[name]))
    return np.concatenate(out) if out else np.zeros(0)


def _sparsity(data: KernelData, layout: _Layout, size: int, options: FitOptions
              ) -> np.ndarray:
    """Which parameters each residual depends on (a row: its layers' classes and the
    overhead; a penalty: its class's)."""
    n = len(data.rows)
    rows = 2 * n if data.cold else n  # the warm rows, then the cold ones
    penalties = _penalties(np.zeros(size), layout, options)
    out = np.zeros((rows + len(penalties), size), dtype=bool)
    kernels = data.layers["kernel"].to_numpy()
    row_of = data.layers["row"].to_numpy()
    for name in layout.classes:
        cols = np.r_[layout.eff[name], layout.par[name], layout.launch[name],
                     layout.launch_thread[name],
                     [layout.bw[name], layout.bw_par[name]] if name in layout.bw else [],
                     [layout.unaligned[name]] if name in layout.unaligned else []
                     ].astype(int)
        hit = np.unique(row_of[kernels == _NAMES.index(name)])
        out[np.ix_(hit, cols)] = True
        if data.cold:
            out[np.ix_(hit + n, np.r_[cols, layout.cold[name], layout.cold_launch].astype(int))
                ] = True
    out[:rows, layout.size:] = True  # the overhead and the layout conversions
    i = rows
    for name in layout.classes:  # in _penalties' order
        n_e = layout.eff[name].stop - layout.eff[name].start
        n_p = layout.par[name].stop - layout.par[name].start
        blocks = [(max(n_e - 2, 0), layout.eff[name]), (max(n_p - 2, 0), layout.par[name]),
                  (n_e, layout.eff[name]), (n_p, layout.par[name])]
        for count, cols in blocks:
            out[i:i + count, cols] = True
            i += count
    return out


def channel_block(data: KernelData) -> int:
    """The channel multiple ONNX Runtime's blocked (NCHWc) kernels need on the machine the
    kernels ran on, read from the kernels themselves: a pooling kernel runs blocked (its graph
    converts its layout, ``Reorder*`` in ``ort_ops``) exactly when its channels are a multiple
    of the block, so the block is the largest power of two dividing the channels of every
    blocked one, provided no unblocked one's channels are a multiple of it. 1 when the data
    cannot tell (no blocked pooling kernel, or a contradiction)."""
    import json

    rows = data.rows
    if "params" not in rows or "ort_ops" not in rows:
        return 1
    pools = rows[(rows["family"] == "pool")]
    blocked: list[int] = []
    plain: list[int] = []
    for r in pools.itertuples(index=False):
        c = int(json.loads(r.params)["c"])
        (blocked if "Reorder" in str(r.ort_ops) else plain).append(c)
    if not blocked:
        return 1
    block = min(c & -c for c in blocked)
    block = min(block, 64)
    return 1 if any(c % block == 0 for c in plain) else block


def fit_kernels(data: KernelData, device: DeviceSpec, options: FitOptions | None = None,
                *, max_nfev: int = 100) -> KernelFit:
    """Fit the kernel models (and, on run times, the per-inference overhead).

    With ``options.target == "run"`` (the default) the model is ``run() = overhead + sum of
    layers``, fitted to the un-profiled ``run()`` times: ONNX Runtime's profiler adds a fixed
    cost to every node it times, so profiled node times of microsecond kernels are inflated.
    With ``"node"`` the layers are fitted to the profiled node times and the overhead is the
    median of run - node.

    With cold times (``cold_s``, on run times) the cold rows are fitted beside the warm ones:
    a cold row adds every layer's cold cost (:func:`cold_extra_times`), a warm row only that of
    its layers too large for the cores' private caches, as ``layer_table`` prices a layer
    inside a model.

    Raises:
        DseError: No rows to fit.
    """
    options = options or FitOptions()
    if data.rows.empty:
        raise DseError([Problem("kernels", "", "no kernel rows to fit")])
    layout = _layout(data, options)
    on_run = options.target == "run"
    # after the layout: [overhead per run()] when on run times
    size = layout.size + (1 if on_run else 0)
    theta0 = np.zeros(size)
    lower = np.full(size, -np.inf)
    upper = np.full(size, np.inf)
    for name in layout.classes:
        e, p = layout.eff[name], layout.par[name]
        # first knot's log value, then non-negative increments: efficiency and parallel
        # fraction never fall with more work, and efficiency rises at most in proportion to
        # the work (increments <= ln 10 per decade), so time never falls with more work
        theta0[e.start] = np.log(0.05 * max_efficiency(name))
        lower[e.start], upper[e.start] = np.log(1e-5), np.log(max_kernel_efficiency(name))
        theta0[e.start + 1:e.stop] = 0.3
        lower[e.start + 1:e.stop] = 0.0
        upper[e.start + 1:e.stop] = np.log(10.0) * options.knot_step
        theta0[p.start] = -1.0
        lower[p.start], upper[p.start] = -8.0, 8.0
        theta0[p.start + 1:p.stop] = 0.5
        lower[p.start + 1:p.stop], upper[p.start + 1:p.stop] = 0.0, 8.0
        theta0[layout.launch[name]] = np.log(2e-6)
        lower[layout.launch[name]], upper[layout.launch[name]] = np.log(1e-9), np.log(1e-3)
        theta0[layout.launch_thread[name]] = np.log(1e-6)
        lower[layout.launch_thread[name]] = np.log(1e-10)
        upper[layout.launch_thread[name]] = np.log(1e-3)
        if name in layout.bw:
            theta0[layout.bw[name]] = np.log(2 * device.mem_bw_bytes_s)
            lower[layout.bw[name]], upper[layout.bw[name]] = np.log(1e8), np.log(1e13)
            theta0[layout.bw_par[name]] = 0.0
            lower[layout.bw_par[name]], upper[layout.bw_par[name]] = -8.0, 8.0
        if name in layout.unaligned:
            theta0[layout.unaligned[name]] = 0.0
            lower[layout.unaligned[name]] = np.log(0.05)
            upper[layout.unaligned[name]] = np.log(2.0)
        if name in layout.cold:
            theta0[layout.cold[name]] = np.log(device.mem_bw_bytes_s)
            lower[layout.cold[name]], upper[layout.cold[name]] = np.log(1e8), np.log(1e13)
    if layout.cold_launch >= 0:
        c = layout.cold_launch
        theta0[c], lower[c], upper[c] = np.log(2e-6), np.log(1e-10), np.log(1e-3)
    node = data.rows["node_s"].to_numpy(dtype=float) * (1.0 - data.layout_share())
    run = data.measured_s
    if on_run:
        o = layout.size
        theta0[o] = np.log(max(float(np.median(run - node)), 2e-6))
        lower[o], upper[o] = np.log(1e-8), np.log(1e-2)
    measured = run if on_run else node
    log_measured = np.log(measured)
    cold = on_run and data.cold
    log_cold = np.log(data.measured_cold_s) if cold else np.zeros(0)

    def residuals(theta: np.ndarray) -> np.ndarray:
        models = _models(theta, layout, construct=False)
        base = predict_kernel_times(models, data, device)
        if on_run:
            base = base + np.exp(theta[layout.size])
        if not cold:
            return np.concatenate([np.log(base) - log_measured,
                                   _penalties(theta, layout, options)])
        parts = [np.log(base + cold_extra_times(models, data, device)) - log_measured,
                 np.log(base + cold_extra_times(models, data)) - log_cold]
        return np.concatenate([*parts, _penalties(theta, layout, options)])

    result = least_squares(residuals, np.clip(theta0, lower + 1e-9, upper - 1e-9),
                           bounds=(lower, upper), x_scale=1.0, max_nfev=max_nfev, method="trf",
                           jac_sparsity=_sparsity(data, layout, size, options))
    theta = result.x
    models = _models(theta, layout)
    overhead = float(np.exp(theta[layout.size])) if on_run else \
        max(float(np.median(run - node)), 0.0)
    table = _table(data, models, predict_kernel_times(models, data, device) + overhead, device)
    return KernelFit(models, overhead, table, options, float(result.cost))


def _table(data: KernelData, models: Mapping[str, KernelModel], base: np.ndarray,
           device: DeviceSpec) -> pd.DataFrame:
    """Measured against predicted, warm rows then (with cold times) cold ones; ``base``: the
    rows' warm time without cold costs."""
    warm = base + cold_extra_times(models, data, device)
    rows = {"key": data.rows["key"], "family": data.rows["family"],
            "source": data.rows["source"], "threads": data.rows["threads"]}
    out = [pd.DataFrame({**rows, "regime": "warm", "measured_s": data.measured_s,
                         "predicted_s": warm})]
    if data.cold:
        out.append(pd.DataFrame({**rows, "regime": "cold", "measured_s": data.measured_cold_s,
                                 "predicted_s": base + cold_extra_times(models, data)}))
    return pd.concat(out, ignore_index=True)


def _errors(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    e = np.abs(predicted / measured - 1.0)
    return {"points": len(e), "mape": float(e.mean()) if len(e) else float("nan"),
            "within_10": float((e <= 0.1).mean()) if len(e) else float("nan"),
            "worst": float(e.max()) if len(e) else float("nan")}


def cross_validate(data: KernelData, device: DeviceSpec, options: FitOptions | None = None,
                   *, groups: np.ndarray | None = None, folds: int = 5, seed: int = 0,
                   max_nfev: int = 200) -> pd.DataFrame:
    """Leave-out predictions of kernel node times.

    Args:
        groups: A label per row; every label is held out once (leave one family out, or one
            model's shapes out). Default: ``folds`` random folds over kernels (both thread
            counts of a kernel in one fold).

    Returns:
        One row per held-out row: ``key``, ``family``, ``threads``, ``group``,
        ``measured_s`` (``run()`` time), ``predicted_s``.
    """
    if groups is None:
        keys = data.rows["key"].to_numpy()
        unique = np.array(sorted(set(keys.tolist())))
        rng = np.random.default_rng(seed)
        fold_of = dict(zip(unique, rng.permutation(len(unique)) % folds, strict=True))
        groups = np.array([f"fold{fold_of[k]}" for k in keys])
    out = []
    for g in sorted(set(groups.tolist())):
        test = groups == g
        if test.all():
            continue
        fit = fit_kernels(data.subset(~test), device, options, max_nfev=max_nfev)
        held = data.subset(test)
        pred = predict_kernel_times(fit.models, held, device) + fit.overhead_per_inference_s
        out.append(_table(held, fit.models, pred, device).assign(group=g))
    return pd.concat(out, ignore_index=True)


def macs_proxy(data: KernelData) -> dict[int, tuple[float, float]]:
    """The naive baseline fitted on the same kernel times as the kernel models
    (:attr:`KernelData.measured_s`): per thread count, ``time = a x MACs + b`` (least squares
    in log space); ``{threads: (a s/MAC, b s)}``."""
    params: dict[int, tuple[float, float]] = {}
    measured = data.measured_s
    for t, group in data.rows.groupby("threads"):
        macs = group["macs"].to_numpy(dtype=float)
        y = measured[group.index.to_numpy()]

        def residuals(x: np.ndarray, macs: np.ndarray = macs, y: np.ndarray = y) -> np.ndarray:
            return np.log(np.exp(x[0]) * macs + np.exp(x[1])) - np.log(y)

        x0 = np.log([max(float(np.median(y / np.maximum(macs, 1.0))), 1e-15),
                     max(float(y.min()), 1e-7)])
        x = least_squares(residuals, x0, max_nfev=500).x
        params[int(str(t))] = (float(np.exp(x[0])), float(np.exp(x[1])))
    return params


def proxy_times(params: Mapping[int, Sequence[float]], macs: np.ndarray, threads: np.ndarray
                ) -> np.ndarray:
    """Times of the MACs proxy (:func:`macs_proxy`); a thread count it was not fitted on takes
    the nearest one's line."""
    keys = sorted(int(k) for k in params)
    out = np.empty(len(macs))
    for i, (m, t) in enumerate(zip(macs, threads, strict=True)):
        a, b = params[min(keys, key=lambda k: abs(k - int(t)))]
        out[i] = a * m + b
    return out


def overlay_of(fit: KernelFit, device: DeviceSpec, *, runtime: str, data: str,
               figures: Mapping[str, Any] | None = None,
               baseline: Mapping[int, Sequence[float]] | None = None) -> Overlay:
    """The fitted values as an overlay of ``device``: kernel models, the ``run()`` overhead,
    and (not fitted, for consistency) the fp32 peak the efficiencies are relative to."""
    values: dict[str, Any] = {
        f"kernel_models.{name}": _plain(model.model_dump(exclude_none=True))
        for name, model in sorted(fit.models.items())}
    values["overhead_per_inference_s"] = float(fit.overhead_per_inference_s)
    # Not fitted: the peak the efficiencies are relative to, so the overlay means the same on
    # a host spec whose clock was read differently (detected vs probed under load).
    values["peak_ops_s.fp32"] = float(device.peak_ops_s["fp32"])
    provenance: dict[str, Any] = {
        "method": "dse.calibrate.kernel_fit: least squares on log run() time (warm and cold, "
                  "layout conversions taken out) of single-kernel ONNX Runtime benchmarks "
                  "(knots every "
                  f"{fit.options.knot_step:g} decades of ops, smoothness {fit.options.smooth:g}, "
                  f"pull {fit.options.pull:g}, thread scaling per {fit.options.thread_scaling}, "
                  f"class bandwidth {fit.options.class_bandwidth}, fitted to {fit.options.target} "
                  "times)",
        "data": data, "fitted_on": _dt.date.today().isoformat(),
        "device": f"{device.name}: {' '.join(device.description.split()) or 'no description'}; "
                  f"peak {device.peak_ops_s.get('fp32', 0.0) / 1e9:.1f} GFLOPS fp32, "
                  f"{device.cores} cores",
        "kernel_rows": len(fit.table), "kernels": int(fit.table["key"].nunique()),
    }
    if figures:
        provenance["figures"] = _plain(dict(figures))
    if baseline:
        provenance["macs_proxy"] = {int(t): {"s_per_mac": _plain(a), "fixed_s": _plain(b)}
                                    for t, (a, b) in sorted(baseline.items())}
    return Overlay(device=device.name, runtime=runtime, values=values, provenance=provenance)


def _plain(value: Any) -> Any:
    """YAML-safe plain values (tuples as lists, numpy scalars as floats, rounded)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.6g}")
    return value


def summarize(table: pd.DataFrame, by: Sequence[str] = ("threads",)) -> pd.DataFrame:
    """MAPE, within ±10% and worst of a ``measured_s``/``predicted_s`` table, per group and
    over all."""
    rows = []
    for key, g in table.groupby(list(by)):
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     **_errors(g["predicted_s"].to_numpy(), g["measured_s"].to_numpy())})
    return pd.DataFrame(rows)


# ----- the host workflow: recorded kernels in, overlay and figures out --------------------------

#: Kernel CSV columns the fit reads (written by ``dse host kernels``, :mod:`dse.measure.kernels`).
_KERNEL_CSV = {"key": "key", "family": "family", "params": "params", "source": "source",
               "threads": "threads", "ort_ops": "ort_ops", "kernel_median_s": "node_s",
               "layout_median_s": "layout_s", "run_median_s": "run_s",
               "cold_median_s": "cold_s"}


def host_device(catalog: Any = None) -> DeviceSpec:
    """The host device the kernels are fitted on: the catalog's ``host``, a file that
    ``dse host probe`` wrote (``dse host calibrate`` probes first when it times the kernels).

    Raises:
        SpecError: The catalog has no ``host`` (the message says to run ``dse host probe``).
    """
    from dse.devices import default_catalog

    return (catalog or default_catalog()).device("host")


def read_kernel_rows(path: Any, *, statistic: str = "median") -> pd.DataFrame:
    """The rows of a kernel CSV the fit needs (:func:`dse.measure.kernels.read_kernels` checks
    the file: every problem with its line).

    Args:
        statistic: ``median`` or ``min`` of the repeats. Other processes only ever add time,
            so on a busy machine the minimum is the better estimate of a kernel's own time; on
            a quiet one the two differ by a few percent.
    """
    from dse.calibrate.kernel_csv import read_kernels

    if statistic not in ("median", "min"):
        raise DseError([Problem("--statistic", statistic, "expected median or min")])
    frame = read_kernels(path)
    columns = {k.replace("median", statistic): v for k, v in _KERNEL_CSV.items()}
    rows = frame.loc[:, list(columns)].rename(columns=columns)
    # one kernel is one (family, params) at every thread count (the CSV's key is per row)
    rows["key"] = rows["family"] + ":" + rows["params"]
    bad = ~((rows["node_s"] > 0) & (rows["run_s"] > 0) & (rows["cold_s"] > 0))
    if bad.any():
        lines = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:10])
        raise DseError([Problem(str(path), f"line {lines}", f"kernel_{statistic}_s, "
                                f"run_{statistic}_s and cold_{statistic}_s: expected times > 0")])
    return rows.reset_index(drop=True)


def kernel_graph(row: Any) -> Workload:
    """A kernel row's graph: its spec rebuilt (:func:`dse.workloads.kernel_suite.build`) and read by
    dse's ONNX frontend, as a whole model's would be."""
    from dse.workloads.kernel_suite import KernelSpec, build
    from dse.workloads.onnx_frontend import graph_from_model

    spec = KernelSpec.from_json(row.family, row.params, file="kernels", where=str(row.key))
    name = f"kernel:{row.family}:{spec.digest}"
    return Workload(name, graph_from_model(build(spec), source=name), "fp32", name)


def load_kernel_data(path: Any, device: DeviceSpec, catalog: Any = None, *,
                     statistic: str = "median") -> KernelData:
    """:func:`kernel_data` of a kernel CSV, priced with ONNX Runtime's fusions."""
    from dse.devices import default_catalog

    runtime = (catalog or default_catalog()).runtimes.get("onnxruntime_cpu")
    return kernel_data(read_kernel_rows(path, statistic=statistic), kernel_graph, device,
                       runtime)


def zoo_table(spec: DeviceSpec, rows: pd.DataFrame, *, catalog: Any = None,
              proxy: Mapping[int, Sequence[float]] | None = None) -> pd.DataFrame:
    """Predicted vs measured single-inference latency of whole models.

    Args:
        spec: The host with the fitted overlay applied.
        rows: Measurement rows (``dse measure``); only one-stream latency rows are used.
        proxy: The MACs proxy (:func:`macs_proxy`), for a ``baseline_s`` column.

    Returns:
        ``workload``, ``threads``, ``measured_s``, ``predicted_s`` (and ``baseline_s``).
    """
    from dse.calibrate.forward import predict

    lat = rows[(rows["metric"] == "latency") & (rows["streams"] == 1)].reset_index(drop=True)
    pred = predict(spec, lat, catalog=catalog)
    table = pd.DataFrame({"workload": lat["workload"], "threads": lat["threads"],
                          "measured_s": lat["value_si"], "predicted_s": pred})
    if proxy is not None:
        from dse.calibrate.baseline import _macs

        table["baseline_s"] = proxy_times(proxy, _macs(lat), lat["threads"].to_numpy())
    return table


def errors_by_threads(table: pd.DataFrame) -> pd.DataFrame:
    """Per thread count (and ``all``): points, MAPE, within ±10% and worst of ``predicted_s``
    (and of ``baseline_s`` when present) against ``measured_s``."""
    out = []
    for t, g in [*((str(t), g) for t, g in table.groupby("threads")), ("all", table)]:
        row: dict[str, Any] = {"threads": t, **_errors(g["predicted_s"].to_numpy(),
                                                      g["measured_s"].to_numpy())}
        if "baseline_s" in g:
            b = _errors(g["baseline_s"].to_numpy(), g["measured_s"].to_numpy())
            row.update({f"baseline_{k}": v for k, v in b.items() if k != "points"})
        out.append(row)
    return pd.DataFrame(out)


def unseen_shapes(data: KernelData, device: DeviceSpec, zoo: pd.DataFrame, *,
                  catalog: Any = None, options: FitOptions | None = None,
                  progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Every zoo model predicted by a fit that left out every kernel whose shape came from it
    (``source`` ``zoo:<model>``): :func:`zoo_table` rows of each model, concatenated."""
    out = []
    for model in sorted(set(zoo["workload"])):
        if progress is not None:
            progress(model)
        keep = (data.rows["source"] != f"zoo:{model}").to_numpy()
        fit = fit_kernels(data.subset(keep), device, options)
        spec = fitted_host(device, fit)
        out.append(zoo_table(spec, zoo[zoo["workload"] == model], catalog=catalog))
    return pd.concat(out, ignore_index=True)


def fitted_host(device: DeviceSpec, fit: KernelFit) -> DeviceSpec:
    """``device`` with a fit's kernel models and overhead applied (as its overlay applies)."""
    from dse.devices.overlay import apply_overlay

    return apply_overlay(device, overlay_of(fit, device, runtime="onnxruntime_cpu", data=""),
                         label="kernel fit")
