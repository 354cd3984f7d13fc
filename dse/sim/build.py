"""From an experiment configuration to a :class:`~dse.sim.plan.Plan` (pure, no SimPy).

:func:`build_plan` checks what only the catalog can check (the runtimes and DVFS levels the
experiment names, its what-if devices), composes the platform, makes the
:class:`~dse.sim.context.PlanContext` for the configuration's policy, asks the policy for its
workers, applies the shared DRAM's contention law and prices the platform.
"""

from __future__ import annotations

from pathlib import Path

from dse.devices import Catalog
from dse.devices.calibrated import catalog_for, inherited_from, is_calibrated
from dse.errors import Problem, SpecError, did_you_mean
from dse.sim.context import PlanContext
from dse.sim.plan import Infeasible, Plan
from dse.sim.policies import get_policy
from dse.spec.experiment import ExperimentConfig
from dse.spec.platform import PlatformSpec

__all__ = ["build_plan"]


def build_plan(config: ExperimentConfig, *, catalog: Catalog | None = None,
               base_dir: Path | str = ".", file: str = "experiment",
               contention: bool = True) -> Plan:
    """The plan of one fixed configuration.

    Args:
        config: The configuration.
        catalog: Device catalog (default: the built-in one); inline devices of the experiment
            are added to a copy.
        base_dir: Folder ONNX paths are relative to (the experiment file's).
        file: The experiment file, for messages.
        contention: Slow compute on shared DRAM by the contention law
            (:func:`~dse.sim.routes.with_contention`);
            ``False`` leaves the steps as one inference alone times them (the fitter re-times
            them and applies the law itself).

    Returns:
        The plan; one whose policy cannot place the work (:class:`~dse.sim.plan.Infeasible`)
        has no workers and says why in ``infeasible``.

    Raises:
        SpecError: Unknown names in the configuration (listing the known ones).
        PluginNotFoundError: Unknown policy.
    """
    if catalog is None:
        catalog = catalog_for(config.calibration)
    catalog = _with_inline_devices(catalog, config, file)
    ref = config.platform
    platform = catalog.compose(ref.host, ref.groups, link=ref.link, file=file,
                               prefix="platform")
    _check_runtimes(config, catalog, platform, file)
    _check_dvfs(config, catalog, platform, file)
    policy = get_policy(config.execution.policy)
    ctx = PlanContext(config, catalog, platform, file, base_dir=Path(base_dir),
                      pin_drivers=bool(getattr(policy, "pins_drivers", False)))
    labels = tuple(w.label for w in config.workloads)
    common = dict(config=config, platform=platform, clusters=ctx.clusters,
                  dram_bw_bytes_s=platform.dram_bw_bytes_s, workload_labels=labels,
                  price_usd=_price(platform, catalog), board_idle_w=platform.board_idle_w,
                  policy=policy)
    try:
        workers, entry, ordered = policy.workers(ctx)
        if not workers:
            raise Infeasible(f"the {policy.name} policy placed no work on this platform")
        if contention:
            workers = ctx.with_contention(list(workers))
    except Infeasible as exc:
        return Plan(units={}, cores={}, links={}, workers=(), entry_queues=(), ordered=False,
                    notes=tuple(ctx.notes), infeasible=str(exc), **common)  # type: ignore[arg-type]
    cores = {name: spec.cores or 1 for name, spec in ctx.clusters.items()}
    ctx.notes += _calibration_note(config, ctx)
    return Plan(units=ctx.all_units, cores=cores, links=ctx.links, workers=tuple(workers),
                entry_queues=tuple(entry), ordered=ordered, notes=tuple(ctx.notes),
                **common)  # type: ignore[arg-type]


def _calibration_note(config: ExperimentConfig, ctx: PlanContext) -> list[str]:
    """Which devices run with fitted values and which with datasheet values, and which runtime
    each runs (stated in the experiment, or the device's default)."""
    units = {u.device: u for u in ctx.all_units.values()}
    used = sorted(units)
    runtimes = [f"{d} {units[d].runtime} ({'stated' if units[d].runtime_stated else 'default'})"
                if units[d].runtime else f"{d} (no runtime named)" for d in used]
    runtime_note = f"runtimes: {', '.join(runtimes)}"
    if config.calibration == "datasheet":
        return ["calibration: datasheet values for every device (calibration: datasheet)",
                runtime_note]
    fitted = [d for d in used if is_calibrated(units[d].spec)]
    rest = [d for d in used if d not in fitted]

    def label(d: str) -> str:
        spec = units[d].spec
        notes = [f"inherited from {', '.join(inherited_from(spec))}"] if inherited_from(spec) \
            else []
        if any("caution" in s.cite for s in spec.sources if s.kind == "fitted"):
            notes.append("few models: low confidence")
        return f"{d} ({'; '.join(notes)})" if notes else d

    return ["calibration: fitted overlays (calibration/overlays) for "
            f"{', '.join(map(label, fitted)) or 'no device'}"
            + (f"; datasheet values for {', '.join(rest)} (no overlay for its target)"
               if rest else ""), runtime_note]


def _check_runtimes(config: ExperimentConfig, catalog: Catalog, platform: PlatformSpec,
                    file: str) -> None:
    """Every runtime the experiment states is known and runs its device (every problem)."""
    problems = []
    on_platform = [*platform.host, *platform.accelerators]
    for device, (runtime, path) in config.platform.stated_runtimes().items():
        if device not in on_platform:
            problems.append(Problem(file, path, f"{device!r} is not on the platform; it has: "
                                    f"{', '.join(on_platform)}"))
        elif (error := catalog.runtime_problem(runtime, device)) is not None:
            problems.append(Problem(file, path, error))
    if problems:
        raise SpecError(problems)


def _check_dvfs(config: ExperimentConfig, catalog: Catalog, platform: PlatformSpec,
                file: str) -> None:
    """Every DVFS level the experiment names is a level of a device on the platform."""
    problems = []
    on_platform = [*platform.host, *platform.accelerators]
    for device, level in config.execution.dvfs.items():
        path = f"execution.dvfs.{device}"
        if device not in on_platform:
            problems.append(Problem(file, path, did_you_mean(device, on_platform,
                                                             what="device")))
            continue
        levels = [lv.name for lv in catalog.device(device).power.dvfs]
        if level not in levels:
            problems.append(Problem(file, path, did_you_mean(level, levels, what=f"DVFS level "
                                                             f"of {device}")
                                    if levels else f"{device} has no DVFS levels; got "
                                    f"{level!r:.40}"))
    if problems:
        raise SpecError(problems)


def _with_inline_devices(catalog: Catalog, config: ExperimentConfig, file: str) -> Catalog:
    """The catalog with the experiment's what-if devices, built like catalog files: a
    ``base:`` device inherits the fitted values of every target of its base."""
    if not config.platform.devices:
        return catalog
    clash = [Problem(file, f"platform.devices.{name}", f"{name!r} is already a catalog device; "
                     f"choose a new name for the what-if")
             for name in config.platform.devices if name in catalog.devices]
    if clash:
        raise SpecError(clash)
    return catalog.with_devices(config.platform.devices, file=file, prefix="platform.devices")


def _price(platform: PlatformSpec, catalog: Catalog) -> float | None:
    parts: list[float | None] = [platform.price_usd]
    parts += [catalog.device(n).price_usd for n in platform.host
              if catalog.device(n).price_usd is not None]
    for name, group in platform.accelerators.items():
        price = catalog.device(name).price_usd
        parts.append(None if price is None else price * group.count)
    known = [p for p in parts if p is not None]
    return float(sum(known)) if known else None
