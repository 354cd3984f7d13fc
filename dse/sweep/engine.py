"""The sweep engine: members in fixed chunks, each chunk a Parquet partition, resumable.

A sweep evaluates members ``[0, N)`` of a family, or ``limit`` of them: the first ``limit``
(``sample="first"``) or a uniform sample without replacement drawn with ``seed``
(``sample="random"``, the default; the indices are sorted). The selected indices are cut into
chunks of ``chunk`` members in order; chunk ``k`` is written to ``part-<k>.parquet`` in the
output folder, atomically (:func:`dse.files.atomic_path`), as soon as it is done.

``manifest.json`` in the folder records what the partitions are of: family, options, precision,
targets, calibration, chunk size, selection, the dse version, the target devices' specs, and a
fingerprint over all of it. A sweep run again into the same folder with the same manifest
evaluates only the chunks whose partition is missing (a killed sweep resumes where it stopped);
with a different one it is refused, unless ``fresh=True``, which moves the old folder aside to
``<out>.old-<time>`` (as ``dse explore --fresh`` moves an old journal aside).

Chunking and every chunk's result depend on nothing but the manifest, so every engine and every
number of workers writes the same partitions. Engines: ``local`` (in this process, or a
:class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes) and ``ray`` (a local
Ray instance of ``workers`` CPUs, or the cluster at ``address``; :mod:`dse.sweep.ray_engine`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dse._version import __version__
from dse.errors import DseError, Problem, did_you_mean
from dse.files import atomic_path, clean_stale_temporaries
from dse.sweep.chunks import write_chunk
from dse.sweep.evaluate import FamilySpec, Targets, open_family, resolve_targets

__all__ = [
    "ENGINES",
    "MANIFEST",
    "MAX_MEMBERS",
    "SweepResult",
    "chunk_indices",
    "load_results",
    "read_manifest",
    "run_sweep",
    "select_members",
]

log = logging.getLogger(__name__)

#: The engines :func:`run_sweep` knows.
ENGINES = ("local", "ray")
#: A family larger than this is swept only with an explicit ``limit``.
MAX_MEMBERS = 1_000_000
#: The manifest file of an output folder.
MANIFEST = "manifest.json"

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did.

    Attributes:
        out: The output folder.
        members: Members the sweep covers (all its chunks).
        chunks: Chunks in all.
        evaluated: Chunks evaluated by this run (the rest were there already, or are left for a
            later run when ``max_chunks`` stopped it).
        complete: Whether every chunk's partition now exists.
        seconds: Wall time of this run's evaluation.
        manifest: The manifest.
    """

    out: Path
    members: int
    chunks: int
    evaluated: int
    complete: bool
    seconds: float
    manifest: dict[str, Any] = field(repr=False)


def select_members(size: int, limit: int | None, sample: str, seed: int) -> np.ndarray:
    """The member indices a sweep covers, sorted (see the module docstring)."""
    if limit is None or limit >= size:
        return np.arange(size, dtype=np.int64)
    if sample == "first":
        return np.arange(limit, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if size <= 10 * limit or size <= 1_000_000:
        picked = rng.choice(size, size=limit, replace=False)
    else:  # a small sample of a huge family: draw with rejection, not a permutation of all
        chosen: set[int] = set()
        while len(chosen) < limit:
            chosen.update(int(v) for v in rng.integers(0, size, size=limit - len(chosen)))
        picked = np.fromiter(chosen, dtype=np.int64)
    return np.sort(picked.astype(np.int64))


def chunk_indices(indices: np.ndarray, chunk: int) -> list[np.ndarray]:
    """``indices`` cut in order into chunks of ``chunk`` (the last may be shorter)."""
    return [indices[k:k + chunk] for k in range(0, len(indices), chunk)]


def _fingerprint(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _manifest(family: FamilySpec, targets: Targets, *, size: int, members: int, chunk: int,
              limit: int | None, sample: str, seed: int) -> dict[str, Any]:
    resolved = resolve_targets(targets)
    devices = {t.name: t.device.model_dump(mode="json") for t in resolved}
    body = {
        "family": family.name, "options": dict(family.options),
        "precision": {t.name: t.precision for t in resolved},
        "targets": list(targets.names), "calibration": targets.calibration,
        "family_size": size, "members": members, "chunk": chunk, "limit": limit,
        "sample": sample if limit is not None and limit < size else "all",
        "seed": seed if sample == "random" and limit is not None and limit < size else None,
        "dse_version": __version__,
        "fallback_hosts": {t.name: t.host for t in resolved},
        "runtimes": {t.name: t.runtime.name if t.runtime is not None else None
                     for t in resolved},
    }
    manifest = {**body, "devices_fingerprint": _fingerprint(devices),
                "fingerprint": _fingerprint({**body, "devices": devices})}
    return json.loads(json.dumps(manifest, default=str))  # as read back from the file


def read_manifest(out: Path | str) -> dict[str, Any] | None:
    """The manifest of a sweep folder, or ``None`` if it has none.

    Raises:
        DseError: The manifest is not readable JSON.
    """
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DseError([Problem(str(path), "", f"not a readable sweep manifest: {exc}")]) \
            from None
    if not isinstance(data, dict):
        raise DseError([Problem(str(path), "", "not a sweep manifest (expected a mapping)")])
    return data


def _prepare_folder(out: Path, manifest: dict[str, Any], fresh: bool) -> None:
    old = read_manifest(out) if out.is_dir() else None
    parts = sorted(out.glob("part-*.parquet")) if out.is_dir() else []
    if old is not None and old.get("fingerprint") == manifest["fingerprint"] and not fresh:
        return
    if (old is not None or parts) and not fresh:
        if old is None:
            what = "it holds partitions but no manifest.json"
        else:
            changed = [k for k in sorted(set(manifest) | set(old))
                       if k not in ("fingerprint",) and old.get(k) != manifest.get(k)]
            what = "it holds a different sweep (" + ", ".join(
                f"{k}: {old.get(k)!r} there, {manifest.get(k)!r} now"
                if k != "devices_fingerprint" else "the target devices' specs changed"
                for k in changed[:6]) + ")"
        raise DseError([Problem(str(out), "", f"{what}; give --fresh to move it aside and "
                                "start again, or another --out")])
    if fresh and out.exists() and any(out.iterdir()):
        aside = out.with_name(f"{out.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        out.rename(aside)
        log.info("moved the old sweep in %s aside to %s", out, aside)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _local_results(family: FamilySpec, targets: Targets, todo: list[tuple[int, np.ndarray]],
                   workers: int, out: Path) -> Iterator[tuple[int, int]]:
    """Each chunk's member count as its partition is written (in this process, or by a pool
    of ``workers`` processes writing their own)."""
    if workers <= 1:
        for k, idx in todo:
            yield k, write_chunk(family, idx, targets, str(out), k)
        return
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        pending: dict[Future[int], int] = {}
        queue = iter(todo)
        # a bounded window of chunks in flight: memory stays that of a few chunks, however
        # many there are
        for k, idx in queue:
            pending[pool.submit(write_chunk, family, idx, targets, str(out), k)] = k
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                k = pending.pop(future)
                yield k, future.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(write_chunk, family, nxt[1], targets, str(out),
                                        nxt[0])] = nxt[0]
    finally:
        # interrupted (Ctrl-C, an error): chunks not started are dropped, not waited for
        pool.shutdown(wait=True, cancel_futures=True)


def run_sweep(family: str, targets: list[str] | tuple[str, ...], *,
              options: Mapping[str, Any] | None = None, precision: str = "auto",
              calibration: str = "shipped", limit: int | None = None,
              sample: Literal["random", "first"] = "random", seed: int = 0,
              out: Path | str | None = None, engine: str = "local", address: str | None = None,
              workers: int = 1, chunk: int = 1000, fresh: bool = False,
              max_chunks: int | None = None, progress: Progress | None = None) -> SweepResult:
    """Sweep a model family over targets into Parquet partitions (see the module docstring).

    Args:
        family: ``zoo`` or a generated family (:func:`dse.sweep.evaluate.family_names`).
        targets: Target strings, ``DEVICE[@RUNTIME][+HOST]`` (:mod:`dse.sweep.evaluate`).
        options: The family's options.
        precision: The precision on every target, or ``auto`` (per target: int8 where the
            device runs it, else its narrowest precision).
        calibration: ``shipped`` or ``datasheet`` device values.
        limit: Sweep this many members (default: all; required above :data:`MAX_MEMBERS`).
        sample: ``random`` (a uniform sample drawn with ``seed``) or ``first``.
        seed: The sample's seed.
        out: Output folder (default ``sweeps/<family>``).
        engine: ``local`` or ``ray``.
        address: The Ray cluster to join (``ray`` engine); default: start one here.
        workers: Worker processes (local) or CPUs of the local Ray instance.
        chunk: Members per chunk (partition).
        fresh: Move an existing sweep folder aside and start again.
        max_chunks: Evaluate at most this many chunks in this run (the rest on a later run).
        progress: Called with ``(members done, members in all, label)``.

    Raises:
        DseError: Unknown family, option, target or engine; a bad number; a family over
            :data:`MAX_MEMBERS` without ``limit``; a folder holding another sweep; an
            unreachable Ray address.
    """
    problems = []
    if engine not in ENGINES:
        problems.append(Problem("--engine", "", did_you_mean(engine, ENGINES, what="engine")))
    for name, value, least in (("--workers", workers, 1), ("--chunk", chunk, 1),
                               ("--limit", limit, 1)):
        if value is not None and value < least:
            problems.append(Problem(name, "", f"must be >= {least}, got {value}"))
    if sample not in ("random", "first"):
        problems.append(Problem("--sample", "", f"expected random or first, got {sample!r}"))
    if address is not None and engine != "ray":
        problems.append(Problem("--address", "", "joins a Ray cluster: give it with "
                                "--engine ray"))
    if problems:
        raise DseError(problems)
    spec = FamilySpec.of(family, options)
    fam = open_family(spec)
    tset = Targets(tuple(t.strip() for t in targets if t.strip()), calibration, precision)
    resolve_targets(tset)
    size = int(fam.size)
    if size > MAX_MEMBERS and limit is None:
        raise DseError([Problem("--limit", "", f"family {family!r} has {size:,} members, more "
                                f"than {MAX_MEMBERS:,}: give --limit N to sweep N of them")])
    indices = select_members(size, limit, sample, seed)
    chunks = chunk_indices(indices, chunk)
    manifest = _manifest(spec, tset, size=size, members=len(indices), chunk=chunk,
                         limit=limit, sample=sample, seed=seed)
    folder = Path(out) if out is not None else Path("sweeps") / family
    session = None
    if engine == "ray":
        from dse.sweep.ray_engine import RaySession

        session = RaySession(address=address, workers=workers)  # fails before any file
    _prepare_folder(folder, manifest, fresh)
    clean_stale_temporaries(folder, ["part-*.parquet", MANIFEST])
    have = {int(p.stem.split("-")[1]) for p in folder.glob("part-*.parquet")}
    todo = [(k, idx) for k, idx in enumerate(chunks) if k not in have]
    if max_chunks is not None:
        todo = todo[:max_chunks]
    done_members = sum(len(idx) for k, idx in enumerate(chunks) if k in have)
    label = f"{family} x {len(tset.names)} targets"
    if progress:
        progress(done_members, len(indices), label)
    start = time.perf_counter()
    evaluated = 0
    try:
        results = (session.results(spec, tset, todo, folder) if session is not None
                   else _local_results(spec, tset, todo, workers, folder))
        for _k, members in results:
            evaluated += 1
            done_members += members
            if progress:
                progress(done_members, len(indices), label)
    finally:
        if session is not None:
            session.close()
    seconds = time.perf_counter() - start
    complete = len(have) + evaluated == len(chunks)
    return SweepResult(folder, len(indices), len(chunks), evaluated, complete, seconds,
                       manifest)


def load_results(out: Path | str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every partition of a sweep folder as one frame sorted by member index, and its manifest.

    Raises:
        DseError: The folder has no manifest or no partitions.
    """
    import pyarrow.parquet as pq

    folder = Path(out)
    manifest = read_manifest(folder)
    if manifest is None:
        raise DseError([Problem(str(folder), "", f"no {MANIFEST}: not a sweep folder (dse "
                                "sweep FAMILY --out DIR writes one)")])
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        raise DseError([Problem(str(folder), "", "no partitions yet: run the sweep first")])
    frames = [pq.read_table(p).to_pandas() for p in parts]
    frame = pd.concat(frames, ignore_index=True).sort_values("index", kind="stable")
    return frame.reset_index(drop=True), manifest
