"""Cost of many models on one target at once: :func:`model_cost` over a :class:`LayerBatch`.

A sweep over a generated model family evaluates hundreds of thousands of models per target.
:func:`batch_cost` prices all the layers of a :class:`~dse.workloads.layers.LayerBatch` with
the same array core as :func:`~dse.cost.compute.layer_table` (:func:`~dse.cost.compute.layer_times`),
places each model's weights with the same rule as :func:`~dse.cost.memory.place_weights`
(:func:`~dse.cost.memory.resident_weights`, segmented by model), and sums each model's
inference as :func:`~dse.cost.model.model_cost` lays it out in segments: the host driver's
work, the input over the link, the per-inference overhead, streamed weights, the layers, the
output. Per model it gives what :class:`~dse.cost.model.ModelCost` gives (to float rounding):
``feasible``, ``reason``, ``time_s``, ``device_s``, ``transfer_s`` and the weight bytes on and
off chip, and the device's energy of one inference on an otherwise idle platform.

Models that fall back. Where the device runs only some of a model's layers and falls back to a
host for the rest (``on_unsupported``: ``fallback_layer`` or ``fallback_tail``), the inference is
runs of consecutive layers on one device, as :func:`~dse.cost.model.model_cost` lays it out: the
fallback's layers are priced by its own layer core with its own placement of their weights, the
tensors crossing between device and fallback (the graph's edges, :class:`LayerBatch`'s
``edge_*`` arrays) go over the link before the run that reads them, and only the graph inputs
(outputs) a layer on the device reads (writes) go over it at the start (end). All of it is
segmented numpy over the batch: run boundaries where the per-layer device flag changes, sums by
run and by model.

What arrays cannot say. Three cases are left to the per-model path, and such a model comes back
infeasible with a reason starting :data:`PER_MODEL` (:attr:`BatchCost.needs_model_path`; with
the models' workloads at hand, :func:`with_model_costs` prices them with
:func:`~dse.cost.model.model_cost`):

- a model that falls back, in a batch without edges (a producer that leaves them out,
  :attr:`LayerBatch.has_edges`);
- a model a ``runtime`` fuses otherwise than the default (:func:`~dse.cost.layers.runtime_counts`):
  its ``fuses`` ops, ``swish``, ``conv_sum``, ``gelu`` or ``skip_layernorm`` kernels find their
  patterns in the graph. Only models holding an op such a rule reads are affected (a model
  without an ``Add`` is fused alike with or without ``conv_sum``); the others are exact;
- every model on a device that declares its memories (``sram_bytes``, ``flash_bytes``,
  ``weight_mem_bytes``: microcontrollers and micro-NPUs): the fit check
  (:mod:`dse.cost.footprint`) plans the activation arena from the tensors' lifetimes.

Pure numpy with no loop over models or layers; models go through in chunks of at most
``chunk_layers`` layers, so memory stays bounded for any batch, and :func:`batch_costs` takes
the batches of a generator one after another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain

import numpy as np
import pandas as pd

from dse.cost.compute import LayerTimes, layer_alignment, layer_times, weights_resident
from dse.cost.memory import (
    DRAM,
    LINK,
    METADATA_OPS,
    activation_bytes_array,
    footprint_array,
    offchip_place,
    placement_fails,
    placement_problem,
    read_bytes_array,
    resident_weights,
)
from dse.cost.model import model_cost
from dse.cost.power import inference_energy_j
from dse.devices.kinds import device_kind
from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads.graph import EPILOGUE_OPS, PRECISION_BYTES, Workload
from dse.workloads.layers import LayerBatch
from dse.workloads.ops import OP_CLASSES

__all__ = ["CHUNK_LAYERS", "PER_MODEL", "BatchCost", "batch_cost", "batch_costs",
           "runtime_trigger_ops", "with_model_costs"]

#: Layers priced at once by default: half a MB per temporary array, so that they stay in cache
#: (measured faster than larger chunks, and than smaller ones that pay Python's overhead).
CHUNK_LAYERS = 1 << 16

#: How the reason of a model left to the per-model path starts.
PER_MODEL = "needs the per-model path"

# Reason codes (one per model; 0: feasible).
_OK, _PRECISION, _UNSUPPORTED, _NO_FALLBACK, _FALLBACK_PRECISION, _FALLS_BACK, _FUSES, \
    _PLACEMENT, _GIVEN, _MEMORIES = range(10)


@dataclass(frozen=True, eq=False)
class _Given:
    """Reasons already formatted (models priced one at a time by :func:`with_model_costs`)."""

    code: np.ndarray
    texts: np.ndarray

    def strings(self) -> np.ndarray:
        return self.texts


@dataclass(frozen=True, eq=False)
class _Reasons:
    """What the reasons of one chunk's models are formatted from (only when read)."""

    code: np.ndarray
    device: DeviceSpec
    precision: str
    fallback: str
    runtime: str
    op_names: tuple[str, ...]
    unsupported: tuple[np.ndarray, np.ndarray]  # (model, op) of every unsupported layer
    total_bytes: np.ndarray
    offchip_bytes: np.ndarray
    capacity: np.ndarray

    def strings(self) -> np.ndarray:
        out = np.full(len(self.code), "", dtype=object)
        bad = np.flatnonzero(self.code)
        if not len(bad):
            return out
        d = self.device
        missing: dict[int, Counter[str]] = {}
        for m, op in zip(*self.unsupported, strict=True):
            missing.setdefault(int(m), Counter())[self.op_names[op]] += 1
        for i in bad:
            code = self.code[i]
            listing = ", ".join(f"{op} x{n}" for op, n in sorted(missing.get(int(i), Counter()).items()))
            if code == _PRECISION:
                out[i] = f"{d.name} does not run {self.precision}; it runs " \
                         f"{', '.join(d.precisions)}"
            elif code == _UNSUPPORTED:
                out[i] = f"{d.name} does not support {listing}"
            elif code == _NO_FALLBACK:
                out[i] = f"{d.name} falls back to {d.fallback_device!r} for {listing}, but " \
                         "no fallback device was given"
            elif code == _FALLBACK_PRECISION:
                out[i] = f"fallback {self.fallback} does not run {self.precision}"
            elif code == _FALLS_BACK:
                out[i] = f"{PER_MODEL}: {listing} fall back to {self.fallback}, and the " \
                         "crossing tensors are graph edges this batch does not hold"
            elif code == _FUSES:
                out[i] = f"{PER_MODEL}: runtime {self.runtime} fuses this model otherwise " \
                         "than the default, which reads the graph"
            elif code == _MEMORIES:
                out[i] = f"{PER_MODEL}: {d.name} declares its memories, and the fit check " \
                         "plans the activation arena from the graph's tensor lifetimes"
            else:
                out[i] = placement_problem(d, float(self.total_bytes[i]),
                                           float(self.offchip_bytes[i]),
                                           float(self.capacity[i]))
        return out


@dataclass(frozen=True, eq=False)
class BatchCost:
    """Cost of one inference of every model of a batch on one target (arrays, one entry per
    model, in the batch's order; zeros where infeasible).

    Attributes:
        names: The models.
        device: The device's name.
        precision: The precision.
        feasible: Whether each runs; if not, :attr:`reason` says why.
        time_s: Latency of one inference on an idle platform (:attr:`ModelCost.time_s`).
        device_s: Time on the device (:attr:`ModelCost.device_s`).
        transfer_s: Time in transfers over the link (:attr:`ModelCost.transfer_s`).
        onchip_weight_bytes, offchip_weight_bytes: As :class:`ModelCost`'s.
        energy_j: The device's energy of one inference on an otherwise idle platform: active
            power while it runs, idle power for the rest of the latency
            (:func:`dse.cost.power.inference_energy_j`). The host's and board's shares are not
            in it.
    """

    names: tuple[str, ...]
    device: str
    precision: str
    feasible: np.ndarray
    time_s: np.ndarray
    device_s: np.ndarray
    transfer_s: np.ndarray
    onchip_weight_bytes: np.ndarray
    offchip_weight_bytes: np.ndarray
    energy_j: np.ndarray
    _reasons: tuple[_Reasons | _Given, ...] = field(default=(), repr=False)

    @property
    def models(self) -> int:
        """Number of models."""
        return len(self.names)

    @cached_property
    def reason(self) -> np.ndarray:
        """Per model, why it does not run (``""`` where it does); formatted when first read."""
        if not self._reasons:
            return np.full(self.models, "", dtype=object)
        return np.concatenate([r.strings() for r in self._reasons])

    @property
    def needs_model_path(self) -> np.ndarray:
        """Models this batch could not price from arrays (see the module docstring)."""
        return np.concatenate([np.isin(r.code, (_FALLS_BACK, _FUSES, _MEMORIES))
                               for r in self._reasons]) \
            if self._reasons else np.zeros(self.models, dtype=bool)

    def to_frame(self) -> pd.DataFrame:
        """One row per model: name, feasible, reason and the figures."""
        return pd.DataFrame({
            "model": self.names, "device": self.device, "precision": self.precision,
            "feasible": self.feasible, "reason": self.reason, "time_s": self.time_s,
            "device_s": self.device_s, "transfer_s": self.transfer_s,
            "onchip_weight_bytes": self.onchip_weight_bytes,
            "offchip_weight_bytes": self.offchip_weight_bytes, "energy_j": self.energy_j})

    @classmethod
    def concat(cls, parts: Sequence[BatchCost]) -> BatchCost:
        """One result of several of one target, in order.

        Raises:
            ValueError: No parts, or parts of different targets.
        """
        if not parts:
            raise ValueError("nothing to concatenate")
        if len({(p.device, p.precision) for p in parts}) > 1:
            raise ValueError("results of different targets cannot be concatenated")
        if len(parts) == 1:
            return parts[0]
        arrays = ("feasible", "time_s", "device_s", "transfer_s", "onchip_weight_bytes",
                  "offchip_weight_bytes", "energy_j")
        return cls(names=tuple(chain.from_iterable(p.names for p in parts)), device=parts[0].device,
                   precision=parts[0].precision,
                   **{a: np.concatenate([getattr(p, a) for p in parts]) for a in arrays},
                   _reasons=tuple(r for p in parts for r in p._reasons))


def runtime_trigger_ops(runtime: RuntimeSpec | None) -> frozenset[str]:
    """The ops whose presence lets ``runtime`` fuse a model otherwise than the default
    (:func:`dse.cost.layers.runtime_counts`): the ops it fuses and the default does not or the
    reverse, ``Sigmoid`` for ``swish``, ``Add`` for ``conv_sum``, ``Erf`` for ``gelu``,
    ``LayerNormalization`` for ``skip_layernorm``. A model without any is fused as by
    default."""
    if runtime is None:
        return frozenset()
    ops = set(EPILOGUE_OPS ^ frozenset(runtime.fuses)) if runtime.fuses is not None else set()
    kernels = runtime.kernels or ()
    for kernel, op in (("swish", "Sigmoid"), ("conv_sum", "Add"), ("gelu", "Erf"),
                       ("skip_layernorm", "LayerNormalization")):
        if kernel in kernels:
            ops.add(op)
    return frozenset(ops)


def batch_cost(batch: LayerBatch, device: DeviceSpec, precision: str, *,
               link: LinkSpec | None = None, fallback: DeviceSpec | None = None,
               runtime: RuntimeSpec | None = None, dvfs: str | None = None,
               threads: int | None = None, chunk_layers: int = CHUNK_LAYERS) -> BatchCost:
    """Cost of one inference of every model of ``batch`` on ``device``: per model, what
    :func:`dse.cost.model_cost` gives for its workload with the same arguments (see the
    module docstring for the models it leaves to that path).

    Args:
        batch: The models' layers.
        device: The device running them.
        precision: The precision (a batch has none of its own).
        link: The link between host and device (required if the device sits on one).
        fallback: The device taking unsupported layers, if the device falls back.
        runtime: The runtime; its fusing applies as in :func:`dse.cost.model_cost`.
        dvfs: DVFS level of the device.
        threads: Intra-op threads of one inference on a CPU cluster (default: all its cores).
        chunk_layers: Layers priced at once (whole models; at least one model per chunk).

    Raises:
        ValueError: A link is needed and not given (a programming error, as in
            :func:`dse.cost.model_cost`), or ``chunk_layers`` < 1.
    """
    if chunk_layers < 1:
        raise ValueError(f"chunk_layers must be >= 1, got {chunk_layers}")
    items = batch.item_offsets()
    parts = [_chunk_cost(batch.window(a, b, items), device, precision, link=link, fallback=fallback,
                         runtime=runtime, dvfs=dvfs, threads=threads)
             for a, b in _chunks(batch.offsets, chunk_layers)]
    if not parts:
        return _chunk_cost(batch, device, precision, link=link, fallback=fallback,
                           runtime=runtime, dvfs=dvfs, threads=threads)
    return BatchCost.concat(parts)


def batch_costs(batches: Iterable[LayerBatch], device: DeviceSpec, precision: str, *,
                link: LinkSpec | None = None, fallback: DeviceSpec | None = None,
                runtime: RuntimeSpec | None = None, dvfs: str | None = None,
                threads: int | None = None, chunk_layers: int = CHUNK_LAYERS
                ) -> Iterator[BatchCost]:
    """:func:`batch_cost` of each batch in turn (a model family's generator may yield them),
    one result per batch: memory stays that of one batch however many there are."""
    for batch in batches:
        yield batch_cost(batch, device, precision, link=link, fallback=fallback,
                         runtime=runtime, dvfs=dvfs, threads=threads, chunk_layers=chunk_layers)


def _chunks(offsets: np.ndarray, chunk_layers: int) -> Iterator[tuple[int, int]]:
    """Ranges of whole models of at most ``chunk_layers`` layers (one model if it has more)."""
    models = len(offsets) - 1
    a = 0
    while a < models:
        b = int(np.searchsorted(offsets, offsets[a] + chunk_layers, side="right")) - 1
        b = min(max(b, a + 1), models)
        yield a, b
        a = b


def _any(mask: np.ndarray, model: np.ndarray, models: int) -> np.ndarray:
    """Per model, whether any of its layers is in ``mask``."""
    return np.bincount(model[mask], minlength=models) > 0


def _sum(values: np.ndarray, model: np.ndarray, models: int) -> np.ndarray:
    """Per model, the sum of its layers' ``values``."""
    return np.bincount(model, weights=values, minlength=models)


def _max(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per model, the largest of its layers' ``values`` (0 for a model without layers)."""
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    out = np.zeros(len(starts))
    if nonempty.any():
        out[nonempty] = np.maximum.reduceat(values, starts[nonempty])
    return out


def _transfer_s(nbytes: np.ndarray, link: LinkSpec | None) -> np.ndarray:
    """:func:`dse.cost.transfer.transfer_time` of each of ``nbytes`` (0 without a link)."""
    if link is None:
        return np.zeros(len(nbytes))
    return np.where(nbytes > 0, link.latency_s + nbytes * 1 / link.bandwidth_bytes_s, 0.0)


def _chunk_cost(batch: LayerBatch, device: DeviceSpec, precision: str, *,
                link: LinkSpec | None, fallback: DeviceSpec | None,
                runtime: RuntimeSpec | None, dvfs: str | None, threads: int | None
                ) -> BatchCost:
    m = batch.models
    zeros = np.zeros(m)
    code = np.zeros(m, dtype=np.int8)
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def result(code: np.ndarray, figures: dict[str, np.ndarray], unsupported: tuple[
            np.ndarray, np.ndarray] = nothing, total: np.ndarray = zeros,
               offchip: np.ndarray = zeros, capacity: np.ndarray = zeros) -> BatchCost:
        ok = code == _OK
        return BatchCost(
            names=batch.names, device=device.name, precision=precision, feasible=ok,
            **{k: np.where(ok, v, 0.0) for k, v in figures.items()},
            _reasons=(_Reasons(code, device, precision, fallback.name if fallback else "",
                               runtime.name if runtime else "", batch.op_names, unsupported,
                               total, offchip, capacity),))

    names = ("time_s", "device_s", "transfer_s", "onchip_weight_bytes", "offchip_weight_bytes",
             "energy_j")
    if precision not in device.peak_ops_s:
        return result(np.full(m, _PRECISION, dtype=np.int8), dict.fromkeys(names, zeros))
    if device.link is not None and link is None:
        raise ValueError(f"{device.name} sits on link {device.link!r}: pass its LinkSpec")
    model = batch.model_of_layer
    op_names = np.array(batch.op_names, dtype=object)
    op = batch.op.astype(np.intp)

    # Which layers the device runs, and what happens to models with others (model_cost's order).
    unsupported = nothing
    on_device = np.ones(batch.layers, dtype=bool)
    falls_back = np.zeros(m, dtype=bool)
    if device.supported_ops is not None:
        listed = list(device.supported_ops)
        supported = np.isin(op_names, listed)[op] | \
            np.isin(np.array(OP_CLASSES, dtype=object), listed)[batch.op_class]
        bad_layers = ~supported
        if bad_layers.any():
            unsupported = (model[bad_layers], op[bad_layers])
            bad = _any(bad_layers, model, m)
            if device.on_unsupported == "infeasible":
                code[bad] = _UNSUPPORTED
            elif fallback is None:
                code[bad] = _NO_FALLBACK
            elif precision not in fallback.peak_ops_s:
                code[bad] = _FALLBACK_PRECISION
            elif not batch.has_edges:
                code[bad] = _FALLS_BACK
            else:
                falls_back = bad
                on_device = _layers_on_device(supported, device, batch.offsets)
    triggers = runtime_trigger_ops(runtime)
    if triggers:
        fused_otherwise = _any(np.isin(op_names, list(triggers))[op], model, m)
        code[fused_otherwise & (code == _OK)] = _FUSES

    # Weight placement (place_weights' rule, per model, of the layers on the device).
    b = PRECISION_BYTES[precision]
    footprint = footprint_array(batch.weight_elems, batch.fused, precision)
    mine = np.where(on_device, footprint, 0.0)
    capacity = _capacity(batch, device, precision, on_device)
    resident = resident_weights(mine, capacity, device, batch.offsets)
    total = _sum(mine, model, m)
    onchip = _sum(np.where(resident, mine, 0.0), model, m)
    offchip = total - onchip
    if device.declares_memories:
        # model_cost's fit check (dse.cost.footprint) comes before the placement's own
        code[(code == _OK) | (code == _PLACEMENT)] = _MEMORIES
    code[(placement_fails(device, total, offchip, capacity) != 0) & (code == _OK)] = _PLACEMENT

    # The layers (layer_table's core), on the device and, for models that fall back, on the
    # fallback (its own placement of the layers it runs, no link, DVFS or thread count).
    passless = np.isin(op_names, list(METADATA_OPS))[op] | batch.fused
    reads = read_bytes_array(footprint, (op_names == "Gather")[op], batch.out_elems, precision)
    t = _times(batch, device, precision, mine, resident, reads, passless, model, link=link,
               dvfs=dvfs, threads=threads)
    time_s, stream_s, stream_bytes = t.time_s, t.stream_s, t.stream_bytes
    if falls_back.any():
        assert fallback is not None  # falls_back is set only with one
        theirs = np.where(on_device, 0.0, footprint)
        host_resident = resident_weights(theirs, _capacity(batch, fallback, precision,
                                                           ~on_device), fallback, batch.offsets)
        hosted = np.flatnonzero(~on_device)
        h = _times(batch, fallback, precision, theirs, host_resident, reads, passless, model,
                   link=None, dvfs=None, threads=None, rows=hosted)
        time_s, stream_s, stream_bytes = time_s.copy(), stream_s.copy(), stream_bytes.copy()
        time_s[hosted], stream_s[hosted], stream_bytes[hosted] = \
            h.time_s, h.stream_s, h.stream_bytes

    # The segments of model_cost, summed in its order: runs of consecutive layers on one
    # device (one per model where none falls back), the tensors crossing before each run.
    kind = device_kind(device.kind)
    driver = device.host_overhead_per_inference_s if device.host_overhead_per_inference_s \
        and not kind.is_host else 0.0
    if falls_back.any():
        new_run = np.ones(batch.layers, dtype=bool)
        new_run[1:] = on_device[1:] != on_device[:-1]
        new_run[batch.offsets[:-1][np.diff(batch.offsets) > 0]] = True
        run = np.cumsum(new_run) - 1
        starts = np.flatnonzero(new_run)
        runs, run_model, run_mine = len(starts), model[starts], on_device[starts]
    else:
        run, runs, run_model, run_mine = model, m, np.arange(m), np.ones(m, dtype=bool)
    streamed = _sum(stream_bytes, run, runs)
    weights_s = np.where(run_mine, _transfer_s(streamed, link), 0.0)
    # _segments subtracts the stream time only from runs that stream; in the others every
    # layer's stream time is 0.0 (0 bytes over the link), and x - 0.0 is x exactly
    compute_s = _sum(time_s - stream_s, run, runs)
    crossing_s = np.zeros(runs)
    if falls_back.any():
        src, dst, elems = batch.edge_src, batch.edge_dst, batch.edge_elems
        assert src is not None and dst is not None and elems is not None
        crosses = on_device[src] != on_device[dst]
        crossing_s = _transfer_s(_sum(elems[crosses], run[dst[crosses]], runs) * b, link)
    if batch.has_edges:
        input_s = _transfer_s(_tensor_elems(batch.input_read_layer, batch.input_read_tensor,
                                            batch.input_read_elems, on_device, model, m) * b,
                              link)
        output_s = _transfer_s(_tensor_elems(batch.output_write_layer,
                                             batch.output_write_tensor,
                                             batch.output_write_elems, on_device, model, m) * b,
                               link)
    else:
        input_s = _transfer_s(batch.input_elems * b, link)
        output_s = _transfer_s(batch.output_elems * b, link)
    overhead = device.overhead_per_inference_s
    runs_s = _sum(crossing_s + weights_s + compute_s, run_model, m)
    device_compute_s = _sum(np.where(run_mine, compute_s, 0.0), run_model, m)
    moved_s = _sum(crossing_s + weights_s, run_model, m)
    time_s = 0.0 + driver + input_s + overhead + runs_s + output_s
    device_s = 0.0 + overhead + device_compute_s
    return result(code, {
        "time_s": time_s, "device_s": device_s, "transfer_s": 0.0 + input_s + moved_s + output_s,
        "onchip_weight_bytes": onchip, "offchip_weight_bytes": offchip,
        "energy_j": np.asarray(inference_energy_j(device, device_s, time_s, dvfs=dvfs))},
        unsupported, total, offchip, capacity)


def _layers_on_device(supported: np.ndarray, device: DeviceSpec, offsets: np.ndarray
                      ) -> np.ndarray:
    """:func:`dse.cost.model.layers_on_device` of every model at once: the supported layers
    (``fallback_layer``), or those before a model's first unsupported one."""
    if device.on_unsupported == "fallback_layer":
        return supported
    bad = np.cumsum(~supported)
    before = np.concatenate([[0], bad])[offsets[:-1]]
    return (bad - np.repeat(before, np.diff(offsets))) == 0


def _capacity(batch: LayerBatch, device: DeviceSpec, precision: str, mask: np.ndarray
              ) -> np.ndarray:
    """Per model, the on-chip bytes for the weights of the layers in ``mask``
    (:func:`dse.cost.memory.place_weights`)."""
    capacity = np.full(batch.models, float(device.onchip_mem_bytes))
    if device.onchip_holds_activations and device.onchip_mem_bytes:
        live = (batch.in_elems + batch.out_elems) * PRECISION_BYTES[precision]
        working = _max(np.where(mask, live, 0.0), batch.offsets)  # live >= 0: 0 for none
        capacity = np.maximum(0.0, device.onchip_mem_bytes - working)
    return capacity


def _times(batch: LayerBatch, device: DeviceSpec, precision: str, footprint: np.ndarray,
           resident: np.ndarray, reads: np.ndarray, passless: np.ndarray, model: np.ndarray, *,
           link: LinkSpec | None, dvfs: str | None, threads: int | None,
           rows: np.ndarray | None = None) -> LayerTimes:
    """:func:`layer_times` of the layers ``rows`` (default: all) on ``device``, weights placed
    as ``resident`` says (``footprint``: the weight bytes it holds per layer, 0 for layers it
    does not run). Arguments are per layer of the batch; the result is per row priced."""
    offchip_layers = (footprint > 0) & ~resident
    to = offchip_place(device)
    cached = None
    if device.kernel_models:
        # whole models' weights, whichever of their layers are priced (cache_resident)
        cached = weights_resident(_sum(reads, model, batch.models), device, threads)[model]
    ops, in_elems, out_elems, kernel = batch.ops, batch.in_elems, batch.out_elems, batch.kernel
    utilization = device_kind(device.kind).layer_utilization(device, batch)
    align = layer_alignment(batch) if device.kernel_models else None
    if rows is not None:
        # NOTE: layer_times is elementwise once the per-model residence is given, so a subset
        # of rows prices as it would among all
        ops, in_elems, out_elems, kernel = ops[rows], in_elems[rows], out_elems[rows], \
            kernel[rows]
        reads, passless, offchip_layers = reads[rows], passless[rows], offchip_layers[rows]
        utilization = utilization[rows]
        align = align[rows] if align is not None else None
        cached = cached[rows] if cached is not None else None
    return layer_times(
        ops=ops, weight_bytes=reads,
        activation_bytes=activation_bytes_array(in_elems, out_elems, passless, precision),
        in_dram=offchip_layers & (to == DRAM), on_link=offchip_layers & (to == LINK),
        passless=passless, kernels=kernel.astype(np.intp),
        utilization=utilization, device=device, precision=precision, link=link, dvfs=dvfs,
        threads=threads, align=align, resident=cached)


def _tensor_elems(layer: np.ndarray | None, tensor: np.ndarray | None, elems: np.ndarray | None,
                  on_device: np.ndarray, model: np.ndarray, models: int) -> np.ndarray:
    """Per model, the elements of the graph inputs (outputs) some layer on the device reads
    (writes), each tensor once however many of them read it (``_segments``' sets of names)."""
    assert layer is not None and tensor is not None and elems is not None
    mine = on_device[layer]
    layer, tensor, elems = layer[mine], tensor[mine], elems[mine]
    if not len(layer):
        return np.zeros(models)
    owner = model[layer]
    key = owner * (int(tensor.max()) + 1) + tensor
    first = np.unique(key, return_index=True)[1]
    return _sum(elems[first], owner[first], models)


def with_model_costs(cost: BatchCost, workloads: Sequence[Workload], device: DeviceSpec,
                     precision: str, *, link: LinkSpec | None = None,
                     fallback: DeviceSpec | None = None, runtime: RuntimeSpec | None = None,
                     dvfs: str | None = None, threads: int | None = None) -> BatchCost:
    """``cost`` with the models it left to the per-model path priced one at a time by
    :func:`dse.cost.model_cost` (so every entry is exact), for a caller that has the models'
    workloads.

    Args:
        cost: :func:`batch_cost` of a batch of these workloads, with the same arguments.
        workloads: The batch's models, in its order.

    Raises:
        ValueError: ``workloads`` are not the batch's models, or ``cost`` is of another target.
    """
    if tuple(w.name for w in workloads) != cost.names:
        raise ValueError("workloads must be the batch's models, in its order")
    if (cost.device, cost.precision) != (device.name, precision):
        raise ValueError(f"cost is of {cost.device} at {cost.precision}, not of {device.name} "
                         f"at {precision}")
    todo = np.flatnonzero(cost.needs_model_path)
    if not len(todo):
        return cost
    arrays = {a: getattr(cost, a).copy() for a in
              ("feasible", "time_s", "device_s", "transfer_s", "onchip_weight_bytes",
               "offchip_weight_bytes", "energy_j")}
    texts = cost.reason.copy()
    for i in todo:
        one = model_cost(workloads[int(i)], device, precision, link=link, fallback=fallback,
                         runtime=runtime, dvfs=dvfs, threads=threads)
        texts[i] = one.reason
        arrays["feasible"][i] = one.feasible
        for a in ("time_s", "device_s", "transfer_s", "onchip_weight_bytes",
                  "offchip_weight_bytes"):
            arrays[a][i] = getattr(one, a)
        arrays["energy_j"][i] = inference_energy_j(device, one.device_s, one.time_s, dvfs=dvfs) \
            if one.feasible else 0.0
    code = np.where(arrays["feasible"], _OK, _GIVEN).astype(np.int8)
    return BatchCost(names=cost.names, device=cost.device, precision=cost.precision,
                     **arrays, _reasons=(_Given(code, texts),))
