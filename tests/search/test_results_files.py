"""dse.search.results.write_outputs: the output files replaced as a set, temporaries cleaned,
ordinary file modes, Parquet never in the report's way, the report answer-first."""

from __future__ import annotations

import copy
import os
import stat

import pandas as pd
import pytest

from dse.api import explore
from dse.files import atomic_path, clean_stale_temporaries, file_mode
from dse.report import study_outputs as results_mod
from dse.report.study_outputs import write_outputs
from tests.search.test_explore import SMALL


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return explore(SMALL, out=out, write=False)


def test_written_files_have_ordinary_modes(tmp_path, study):
    old = os.umask(0o022)
    try:
        paths = write_outputs(study, tmp_path)
    finally:
        os.umask(old)
    assert {p.name for p in paths} >= {"trials.csv", "trials.parquet", "report.md",
                                        "report.html", "best_1.yaml", "dimensions.png"}
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
    old = os.umask(0o077)
    try:
        assert file_mode() == 0o600
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("x")
        assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_stale_temporaries_of_ours_are_removed_and_only_those(tmp_path, study):
    ours = [tmp_path / ".pareto.svg.ab12cd_3.tmp", tmp_path / ".best_2.yaml.zz99zz99.tmp"]
    theirs = [tmp_path / ".notes.txt.ab12cd34.tmp", tmp_path / ".pareto.svg.tmp",
              tmp_path / "pareto.svg.ab12cd34.tmp"]
    for p in ours + theirs:
        p.write_text("x")
    assert sorted(clean_stale_temporaries(tmp_path, ["nothing"])) == []
    write_outputs(study, tmp_path)
    assert not any(p.exists() for p in ours)
    assert all(p.exists() for p in theirs)


def test_best_files_are_replaced_as_a_set(tmp_path, study, monkeypatch):
    n_best = min(len(study.pareto), results_mod.BEST_FILES)
    (tmp_path / f"best_{n_best + 1}.yaml").write_text("stale")
    (tmp_path / "best_1.yaml").write_text("old")
    write_outputs(study, tmp_path)
    names = sorted(p.name for p in tmp_path.glob("best_*.yaml"))
    assert names == [f"best_{k}.yaml" for k in range(1, n_best + 1)]
    assert (tmp_path / "best_1.yaml").read_text() != "old"
    # a run killed while writing the set: the files of the previous run are all still there
    (tmp_path / "best_1.yaml").write_text("old")
    (tmp_path / f"best_{n_best + 1}.yaml").write_text("stale")
    real = results_mod.best_yaml
    calls = []

    def dies_on_the_last(*args, **kw):
        calls.append(1)
        if len(calls) == n_best:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(results_mod, "best_yaml", dies_on_the_last)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(study, tmp_path)
    assert (tmp_path / f"best_{n_best + 1}.yaml").read_text() == "stale"
    if n_best > 1:
        assert (tmp_path / "best_1.yaml").read_text() != "old"  # already replaced
    else:
        assert (tmp_path / "best_1.yaml").read_text() == "old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_mixed_type_choices_still_give_a_report(tmp_path):
    exp = copy.deepcopy(SMALL)
    exp["execution"]["preprocess_s"] = [0.001, "2 ms"]  # a number and a text, both valid
    exp["search"] = {"trials": 6, "sampler": "random", "seed": 1}
    result = explore(exp, out=tmp_path)
    col = result.trials["param:execution.preprocess_s"]
    assert {type(v) for v in col} == {float, str}  # the case pyarrow refuses as is
    with pytest.raises(Exception, match=r"(?i)conver|type"):
        result.trials.to_parquet(tmp_path / "raw.parquet")
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()
    back = pd.read_parquet(tmp_path / "trials.parquet")
    assert set(back["param:execution.preprocess_s"]) == {"0.001", "2 ms"}


def test_a_parquet_failure_does_not_stop_the_report(tmp_path, study, monkeypatch):
    def broken(self, *args, **kw):
        raise ValueError("no parquet engine")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    paths = {p.name for p in write_outputs(study, tmp_path)}
    assert "trials.parquet" not in paths and {"report.md", "report.html"} <= paths


def test_report_opens_with_the_answer(tmp_path, study):
    write_outputs(study, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Answer") < md.index("## What was searched")
    assert "distinct feasible configurations" in md
    assert "### What binds, and what adding it does" in md
    assert "### Where scaling stops" in md and "`platform.accelerators.ncs2.count`" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # dimensions and the Pareto front
    assert 'src="dimensions.png"' not in html and "src='dimensions.png'" not in html
