"""A study resumes only with the experiment it was made of: the fingerprint, --fresh,
--resume-anyway, and what the study records (objective names for optuna-dashboard)."""

from __future__ import annotations

import copy

import optuna
import pytest
import yaml

from dse.api import explore
from dse.cli import main
from dse.errors import DseError, SpecError
from dse.search.storage import journal_storage
from tests.search.test_explore import SMALL


def _with(**changes):
    data = copy.deepcopy(SMALL)
    for path, value in changes.items():
        *head, last = path.split("__")
        node = data
        for key in head:
            node = node[key]
        node[last] = value
    return data


def _study(tmp_path):
    return optuna.load_study(study_name="small", storage=journal_storage(tmp_path /
                                                                          "small.journal"))


def test_the_study_records_what_it_covered(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    study = _study(tmp_path)
    assert study.metric_names == ["throughput_fps", "price_usd"]
    attrs = study.user_attrs
    assert len(attrs["fingerprint"]) == 64
    assert attrs["experiment"]["constraints"] == {"latency_p99_ms": {"max": 200}}
    assert "search" not in attrs["experiment"]


def test_a_changed_constraint_is_refused_with_what_changed(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    changed = _with(constraints__latency_p99_ms={"max": 100})
    with pytest.raises(DseError, match=r"(?s)study 'small' was run with a different experiment "
                       r"\(changed: constraints\).*constraints.latency_p99_ms.max: 200 -> 100"
                       r".*--fresh.*--resume-anyway"):
        explore(changed, out=tmp_path, trials=4)
    assert len(_study(tmp_path).trials) == 2  # nothing ran


def test_a_widened_range_is_refused(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    wider = _with(platform__accelerators={"ncs2": {"count": {"min": 1, "max": 4}}})
    with pytest.raises(DseError, match=r"changed: platform\).*\n.*"
                                       r"platform.accelerators.ncs2.count.max: 3 -> 4"):
        explore(wider, out=tmp_path, trials=4)


def test_more_trials_or_other_search_settings_are_not_a_change(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    assert len(explore(SMALL, out=tmp_path, trials=3).trials) == 3
    more = _with(search={"trials": 5, "sampler": "tpe", "seed": 9})
    assert len(explore(more, out=tmp_path).trials) == 5


def test_resume_anyway_adds_trials_and_adopts_the_new_experiment(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    changed = _with(stream={"frames": 60})
    result = explore(changed, out=tmp_path, trials=4, resume_anyway=True)
    assert len(result.trials) == 4
    assert any("--resume-anyway" in n and "stream" in n for n in result.notes)
    # the study now records the new experiment: resuming it again needs no flag
    assert len(explore(changed, out=tmp_path, trials=5).trials) == 5
    with pytest.raises(DseError, match=r"stream.frames: 60 -> 40"):
        explore(SMALL, out=tmp_path, trials=6)


def test_fresh_moves_the_old_journal_aside(tmp_path):
    first = explore(SMALL, out=tmp_path, trials=3).trials
    changed = _with(constraints__latency_p99_ms={"max": 100})
    result = explore(changed, out=tmp_path, trials=2, fresh=True)
    assert len(result.trials) == 2
    aside = list(tmp_path.glob("small.journal.old-*"))
    assert len(aside) == 1
    assert any(str(aside[0]) in n for n in result.notes)
    old = optuna.load_study(study_name="small", storage=journal_storage(aside[0]))
    assert [t.values for t in old.trials] == [list(v) for v in
                                              first[["value:throughput_fps", "value:price_usd"]]
                                              .itertuples(index=False)]
    assert _study(tmp_path).user_attrs["experiment"]["constraints"] == {
        "latency_p99_ms": {"max": 100}}
    # a second --fresh keeps the first one aside too
    explore(changed, out=tmp_path, trials=1, fresh=True)
    assert len(list(tmp_path.glob("small.journal.old-*"))) == 2


def test_fresh_and_resume_anyway_exclude_each_other(tmp_path):
    with pytest.raises(SpecError, match="give --fresh or --resume-anyway, not both"):
        explore(SMALL, out=tmp_path, trials=1, fresh=True, resume_anyway=True)


def test_a_study_without_fingerprint_is_not_trusted(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    _study(tmp_path).set_user_attr("fingerprint", None)  # as an older dse left it
    with pytest.raises(DseError, match="2 finished trials but no fingerprint"):
        explore(SMALL, out=tmp_path, trials=3)
    assert len(explore(SMALL, out=tmp_path, trials=3, resume_anyway=True).trials) == 3
    assert len(explore(SMALL, out=tmp_path, trials=4).trials) == 4  # adopted


def test_cli_refuses_a_changed_experiment_and_fresh_says_where_the_old_one_went(
        tmp_path, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "out"
    args = ["explore", str(path), "--trials", "2", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    changed = [*args, "--set", "constraints.latency_p99_ms.max=100"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert "constraints.latency_p99_ms.max: 200 -> 100" in err and "Traceback" not in err
    assert "200" in (out / "report.md").read_text()  # the old report is untouched
    assert main([*changed, "--fresh"]) == 0
    err = capsys.readouterr().err
    assert "moved to" in err and "small.journal.old-" in err
    assert main([*changed, "--resume-anyway", "--trials", "3"]) == 0  # same as the study now


def test_fresh_on_postgresql_deletes_the_study(tmp_path, postgres_url):
    explore(SMALL, out=tmp_path, trials=2, storage=postgres_url)
    changed = _with(constraints__latency_p99_ms={"max": 100})
    with pytest.raises(DseError, match="changed: constraints"):
        explore(changed, out=tmp_path, trials=3, storage=postgres_url)
    result = explore(changed, out=tmp_path, trials=1, storage=postgres_url, fresh=True)
    assert len(result.trials) == 1
    assert any("deleted study 'small'" in n for n in result.notes)
    assert "nobody" not in " ".join(result.notes)


def test_a_new_description_is_not_a_change(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    assert len(explore({**SMALL, "description": "now with notes"}, out=tmp_path,
                       trials=3).trials) == 3
