"""The journal reaches the disk when a trial finishes, not on every append of a running trial
(an fsync under the lock serialises the workers sharing a study)."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

import dse.search.storage as storage
from dse.api import explore
from dse.search.storage import JournalFile, journal_storage, needs_sync
from tests.search.test_explore import SMALL


def test_only_appends_that_finish_a_trial_or_change_the_study_sync():
    running = [{"op_code": 4}, {"op_code": 5}, {"op_code": 8}, {"op_code": 9},
               {"op_code": 6, "state": TrialState.RUNNING}]
    assert not any(needs_sync([log]) for log in running)
    assert needs_sync([{"op_code": 6, "state": TrialState.COMPLETE}])
    assert needs_sync([{"op_code": 6, "state": TrialState.FAIL}])
    assert needs_sync([{"op_code": 0}])  # a new study
    assert needs_sync([{"op_code": 2}])  # a study attribute
    assert needs_sync([running[0], {"op_code": 6, "state": TrialState.COMPLETE}])


def test_a_study_syncs_once_per_finished_trial_and_reads_back_whole(tmp_path, monkeypatch):
    calls = []
    real = storage.os.fsync
    monkeypatch.setattr(storage.os, "fsync", lambda fd: calls.append(fd) or real(fd))
    appends = []
    append = JournalFile.append_logs
    monkeypatch.setattr(JournalFile, "append_logs",
                        lambda self, logs: appends.append(logs) or append(self, logs))
    result = explore(SMALL, out=tmp_path, trials=4, write=False)
    assert len(result.trials) == 4
    finished = sum(needs_sync(logs) for logs in appends)
    assert len(calls) == finished < len(appends)
    study = optuna.load_study(study_name="small",
                              storage=journal_storage(tmp_path / "small.journal"))
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert all({"feasible", "reason", "metrics"} <= set(t.user_attrs) for t in trials)
