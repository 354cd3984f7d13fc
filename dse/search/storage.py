"""Where a study lives: an Optuna journal file in the output folder, or a storage URL.

A local journal is robust to a process killed at any moment:

- Appends are serialised by :class:`FlockLock`, an ``flock(2)`` on ``NAME.journal.flock``. The
  kernel drops it the moment its owner dies, so a killed run never leaves a lock behind that the
  next one must wait out (Optuna's own ``JournalFileSymlinkLock`` waits 30 s before breaking a
  lock file whose owner is gone).
- Every process working on the journal holds a shared ``flock`` on ``NAME.journal.alive`` for
  its whole life (:class:`Liveness`). A process that can take it exclusively knows that no other
  process is working on the study, so the trials still ``RUNNING`` belong to dead workers: they
  are marked ``FAIL`` with the reason ``worker died`` (:func:`fail_zombies`).
- Appends are written to disk (``fsync``) when they finish a trial or change the study, not for
  each parameter and attribute of a running trial (:class:`JournalFile`): a trial is a dozen
  appends, and an ``fsync`` under the lock serialises workers (milliseconds each on a busy
  disk). Page cache survives a killed process, so only power loss can drop the appends of a
  trial still running, and that trial had no result yet.
- A write torn by a kill (the kernel may stop a large ``write`` part-way on ``SIGKILL``) would
  merge with the next append into one unreadable line; the torn tail is cut off first
  (:func:`repair_tail`).

A storage URL (PostgreSQL, SQLite) may have live workers on other machines, so no trial is
failed from here: the storage runs Optuna's heartbeat and Optuna fails a trial whose heartbeat
stopped (``fail_stale_trials``, at the start of every trial).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

# The base of the lock objects JournalFileBackend(lock_obj=...) documents; not re-exported.
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock, get_lock_file
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import TrialState

from dse.errors import DseError, Problem

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: Optuna's own lock, its 30 s grace included
    fcntl = None  # type: ignore[assignment]

__all__ = ["FlockLock", "JournalFile", "Liveness", "StudyStorage", "fail_zombies", "journal_storage",
           "open_storage", "reopen", "repair_tail"]

logger = logging.getLogger(__name__)

#: Seconds between heartbeats of a running trial in an RDB storage, and how long a silent one
#: lives before Optuna fails it (a trial simulates in well under a minute).
HEARTBEAT_S = 30
GRACE_S = 120

#: Reason recorded on a trial whose worker died while it ran.
WORKER_DIED = "worker died"


class FlockLock(BaseJournalFileLock):
    """An ``flock`` on ``PATH.flock``: never stale, since the kernel releases it with its owner.

    Each thread takes the lock through a descriptor of its own (``flock`` locks belong to an
    open file description), so threads of one process exclude each other as processes do.
    """

    def __init__(self, journal: str) -> None:
        self._path = journal + ".flock"
        self._held = threading.local()

    def __reduce__(self) -> tuple[Any, ...]:
        return FlockLock, (self._path.removesuffix(".flock"),)

    def acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._held.fd = fd
        return True

    def release(self) -> None:
        fd = getattr(self._held, "fd", None)
        if fd is None:
            raise RuntimeError(f"{self._path}: released without being held")
        self._held.fd = None
        os.close(fd)  # closing the last descriptor drops the lock


class Liveness:
    """A shared ``flock`` on ``PATH.alive``, held while this process works on the journal.

    Args:
        journal: The journal file.
        claim: Try first to take it exclusively: :attr:`alone` then says whether any other
            process holds it (a worker started by this one only needs the shared lock).
    """

    def __init__(self, journal: Path, *, claim: bool = False) -> None:
        self._fd: int | None = os.open(f"{journal}.alive", os.O_RDWR | os.O_CREAT, 0o644)
        self.alone = False
        if claim:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.alone = True
            except BlockingIOError:
                pass
        fcntl.flock(self._fd, fcntl.LOCK_SH)  # from exclusive: a downgrade

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def repair_tail(path: Path, lock: BaseJournalFileLock) -> int:
    """Cut a torn last line (no newline: its writer died mid-write) off a journal.

    Returns:
        The number of bytes cut.
    """
    if not path.exists():
        return 0
    lock.acquire()
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return 0
            keep = 0
            block = 1 << 16
            pos = size
            while pos > 0 and not keep:
                start = max(0, pos - block)
                f.seek(start)
                chunk = f.read(pos - start)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    keep = start + nl + 1
                pos = start
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    finally:
        lock.release()
    logger.warning("%s: cut a torn last line of %d bytes (its writer was killed mid-write)",
                   path, size - keep)
    return size - keep


#: Journal operations of a trial still running: appended without waiting for the disk.
_RUNNING_OPS = frozenset({JournalOperation.CREATE_TRIAL, JournalOperation.SET_TRIAL_PARAM,
                          JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE,
                          JournalOperation.SET_TRIAL_USER_ATTR,
                          JournalOperation.SET_TRIAL_SYSTEM_ATTR})


def needs_sync(logs: list[dict[str, Any]]) -> bool:
    """Whether appending ``logs`` must reach the disk before returning: anything but the
    operations of a running trial (its creation, parameters, attributes, its start)."""
    for log in logs:
        op = log.get("op_code")
        if op in _RUNNING_OPS:
            continue
        if op == JournalOperation.SET_TRIAL_STATE_VALUES and \
                log.get("state") in (TrialState.RUNNING, TrialState.WAITING):
            continue
        return True
    return False


class JournalFile(JournalFileBackend):
    """Optuna's journal file, written to disk (``fsync``) only by appends that finish a trial or
    change the study (:func:`needs_sync`); the appends before are made durable with it, since
    ``fsync`` writes every dirty page of the file."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with get_lock_file(self._lock), open(self._file_path, "ab") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            if needs_sync(logs):
                os.fsync(f.fileno())


def journal_storage(path: Path | str) -> optuna.storages.BaseStorage:
    """An Optuna journal storage on ``path`` with :class:`FlockLock`."""
    from optuna.storages import JournalStorage

    return JournalStorage(JournalFile(str(path), lock_obj=journal_lock(path)))


def journal_lock(path: Path | str) -> BaseJournalFileLock:
    """The lock of the journal ``path``: :class:`FlockLock` (Optuna's own without ``fcntl``)."""
    if fcntl is not None:
        return FlockLock(str(path))
    from optuna.storages.journal import JournalFileOpenLock  # pragma: no cover

    return JournalFileOpenLock(str(path))  # pragma: no cover


def rdb_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage on ``url`` with a heartbeat.

    Raises:
        DseError: The URL cannot be opened (unreachable server, missing driver, bad URL).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
    except Exception as exc:
        reason = _first_line(exc)
        cause = exc.__cause__
        if cause is not None and str(cause).strip().split("\n")[0] not in reason:
            reason += f" ({_first_line(cause)})"  # the driver's own words: a missing module
        raise DseError([Problem("--storage", _safe_url(url), f"cannot open storage URL: "
                                f"{reason}")]) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _safe_url(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


@dataclass
class StudyStorage:
    """An opened storage.

    Attributes:
        storage: The Optuna storage.
        ref: A string another process opens the same storage with (:func:`reopen`).
        journal: The local journal file (``None`` for a URL).
        alone: No other process works on the local journal (always ``False`` for a URL).
        notes: What was done on opening that the user should hear about.
    """

    storage: optuna.storages.BaseStorage
    ref: str
    journal: Path | None = None
    alone: bool = False
    notes: list[str] = field(default_factory=list)
    _liveness: Liveness | None = None

    def close(self) -> None:
        if self._liveness is not None:
            self._liveness.close()
            self._liveness = None


def open_storage(url: str | None, out: Path, name: str, *, fresh: bool = False) -> StudyStorage:
    """Open the study's storage: ``url``, or the journal ``out/NAME.journal``.

    Args:
        fresh: Start over: the journal is moved aside to ``NAME.journal.old-<UTC time>`` (the
            study is deleted from a URL storage).

    Raises:
        DseError: The URL cannot be opened; ``fresh`` while other processes work on the
            journal.
    """
    if url:
        storage = rdb_storage(url)
        opened = StudyStorage(storage, url)
        if fresh:
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=name, storage=storage)
                opened.notes.append(f"--fresh: deleted study {name!r} from {_safe_url(url)}")
        return opened
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.journal"
    liveness = Liveness(path, claim=True) if fcntl is not None else None
    alone = liveness.alone if liveness is not None else True
    notes = []
    if fresh and path.exists() and path.stat().st_size:
        if not alone:
            if liveness is not None:
                liveness.close()
            raise DseError([Problem(str(path), "", "--fresh: other processes are working on "
                                    "this study; stop them first")])
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}.old-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.old-{stamp}-{n}")
        path.rename(aside)
        notes.append(f"--fresh: the previous study's journal was moved to {aside}")
    if alone:
        repair_tail(path, journal_lock(path))
    storage = journal_storage(path)
    return StudyStorage(storage, f"journal:{path}", path, alone, notes, liveness)


def reopen(ref: str) -> optuna.storages.BaseStorage:
    """The storage :attr:`StudyStorage.ref` names (in a worker process)."""
    return journal_storage(ref.removeprefix("journal:")) if ref.startswith("journal:") \
        else rdb_storage(ref)


def fail_zombies(storage: optuna.storages.BaseStorage, name: str) -> int:
    """Mark the study's ``RUNNING`` trials ``FAIL`` (reason ``worker died``).

    Only for a storage no live process works on (:attr:`StudyStorage.alone`).

    Returns:
        How many trials were failed.
    """
    study_id = storage.get_study_id_from_name(name)
    n = 0
    for t in storage.get_all_trials(study_id, deepcopy=False,
                                    states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "feasible", False)
        storage.set_trial_user_attr(t._trial_id, "reason", WORKER_DIED)
        try:
            storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        n += 1
    if n:
        logger.warning("study %s: %d trial(s) left RUNNING by a dead worker marked FAIL",
                       name, n)
    return n
