"""dse.report.study_report: de-duplication, ranking, scaling, the what-if check, the document."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import dse
from dse.report.document import Document
from dse.report.study_report import (
    dimension_figure,
    distinct_configurations,
    next_value,
    question,
    ranked,
    related_dimensions,
    scaling,
    scaling_stops,
    what_if,
    within,
)
from dse.search.space import Constraint, Objective
from dse.spec.experiment import Dimension

GOALS = [Objective("throughput_fps", "maximize"), Objective("price_usd", "minimize")]
COUNT = Dimension("platform.accelerators.ncs2.count", "int", 1.0, 4.0)
POLICY = Dimension("execution.policy", "choice", choices=("data_parallel", "threads"))


def _row(trial, count, policy, fps, price, devices, p99=10.0, feasible=True, energy=0.02):
    return {"trial": trial, "state": "COMPLETE", "feasible": feasible, "reason": "",
            f"param:{COUNT.path}": count, f"param:{POLICY.path}": policy,
            "value:throughput_fps": fps, "value:price_usd": price, "throughput_fps": fps,
            "latency_p50_ms": p99 / 2, "latency_p95_ms": p99 * 0.9, "latency_p99_ms": p99,
            "energy_per_inference_j": energy, "average_power_w": 4.0, "price_usd": price,
            "bottlenecks": "device ncs2:0", "platform": f"raspberry_pi4+{count}xncs2",
            "devices_used": ", ".join(f"ncs2:{i}" for i in range(devices))}


def _trials():
    return pd.DataFrame([
        _row(0, 1, "threads", 140.0, 154.0, 1),
        _row(1, 3, "threads", 140.0, 352.0, 1, energy=0.03),   # same as 0, idle sticks
        _row(2, 4, "threads", 140.0, 451.0, 1, energy=0.04),   # same as 0, idle sticks
        _row(3, 2, "data_parallel", 280.0, 253.0, 2),
        _row(4, 3, "data_parallel", 420.0, 352.0, 3),
        _row(5, 4, "data_parallel", 430.0, 451.0, 4),
        _row(6, 4, "data_parallel", 900.0, 451.0, 4, feasible=False),
        _row(7, 1, "data_parallel", 140.0, 154.0, 1, p99=11.0),  # other latency: distinct
    ])


def test_effectively_identical_trials_are_merged_into_the_cheapest():
    distinct = distinct_configurations(_trials())
    assert sorted(distinct["trial"]) == [0, 3, 4, 5, 7]  # infeasible 6 left out
    kept = distinct.set_index("trial")
    assert kept.loc[0, "equivalent"] == 3
    assert kept.loc[0, "same_as"] == "1, 2"
    assert kept.loc[3, "equivalent"] == 1 and kept.loc[3, "same_as"] == ""


def test_same_metrics_on_other_devices_are_not_merged():
    t = _trials()
    t.loc[1, "devices_used"] = "ncs2:0, ncs2:1"  # the same numbers on more devices: distinct
    assert 1 in set(distinct_configurations(t)["trial"])
    t = _trials()
    t.loc[1, "platform"] = "x86_desktop+3xncs2"  # another host: distinct
    assert 1 in set(distinct_configurations(t)["trial"])


def test_ranking_by_front_then_objectives():
    t = _trials()
    t.loc[4, ["value:price_usd", "price_usd"]] = 500.0  # 420 fps at $500: behind 5 (430, $451)
    assert list(ranked(distinct_configurations(t), GOALS)["front"]) == [1, 1, 1, 1, 2]
    table = ranked(distinct_configurations(_trials()), GOALS)
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    # 7 ties with 0 on both objectives (neither dominates): both on the front, by trial
    assert list(table["trial"]) == [5, 4, 3, 0, 7]
    assert list(table["front"]) == [1, 1, 1, 1, 1]
    assert table.iloc[0]["trial"] == 5
    near = within(table, GOALS)
    assert list(near["trial"]) == [4, 5]  # 420 is within 5% of 430 and cheaper


def test_scaling_stops_where_the_best_stops_improving():
    t = _trials()
    per_count = scaling(t, COUNT, GOALS[0])
    assert list(per_count["value"]) == [1, 2, 3, 4]
    assert list(per_count["best"]) == [140.0, 280.0, 420.0, 430.0]  # infeasible 900 not counted
    (stop,) = scaling_stops(t, [COUNT, POLICY], GOALS[0])  # the policy is not numeric
    assert stop.stop == 3 and not stop.still_scaling
    assert stop.best_at_stop == 420.0 and stop.best_overall == 430.0
    t.loc[5, ["value:throughput_fps", "throughput_fps"]] = 600.0
    (stop,) = scaling_stops(t, [COUNT], GOALS[0])
    assert stop.stop == 4 and stop.still_scaling


def test_steps_and_related_dimensions():
    assert next_value(COUNT, 2) == 3 and next_value(COUNT, 4) is None
    assert next_value(COUNT, 4, beyond=True) == 5
    requests = Dimension("execution.infer_requests", "choice", choices=(1, 2, 4))
    assert next_value(requests, 2) == 4 and next_value(requests, 4, beyond=True) == 6
    assert next_value(POLICY, "threads") is None
    threads = Dimension("execution.threads", "int", 1.0, 8.0)
    dims = [COUNT, POLICY, threads, requests]
    assert related_dimensions(["device ncs2:3"], dims) == [COUNT.path]
    assert related_dimensions(["workers (frames in flight)"], dims) == [
        "execution.threads", "execution.infer_requests"]
    assert related_dimensions(["cores rpi4_cpu", "device coral_usb:0"], dims) == []


def test_what_if_simulates_the_step_and_checks_constraints():
    experiment = dse.load_experiment(
        dse.catalog.catalog_dir("experiments") / "multi_ncs.yaml",
        overrides={"stream.frames": 60, "stream.warmup": 6})
    best = {"platform.accelerators.ncs2.count": 1, "execution.policy": "data_parallel",
            "execution.threads": 1, "execution.infer_requests": 1}
    ref = dse.simulate(experiment, choices=best)
    row = pd.Series({"trial": 0, **{f"param:{k}": v for k, v in best.items()},
                     "bottlenecks": ", ".join(ref.bound.bottlenecks)})
    limits = [Constraint("latency_p99_ms", "max", 1e6)]
    table = what_if(experiment, row, GOALS, limits).set_index("dimension")
    assert table.loc["", "throughput_fps"] == pytest.approx(ref.metrics.throughput_fps)
    two = dse.simulate(experiment, choices={**best, "platform.accelerators.ncs2.count": 2})
    step = table.loc["platform.accelerators.ncs2.count"]
    assert step["throughput_fps"] == pytest.approx(two.metrics.throughput_fps)
    assert step["gain"] == pytest.approx(two.metrics.throughput_fps /
                                         ref.metrics.throughput_fps - 1)
    assert set(table.index) == {"", "platform.accelerators.ncs2.count", "execution.threads",
                                "execution.infer_requests"}
    assert table["feasible"].all()
    # each row says which devices ran on fitted values and which on datasheet values
    (note,) = [n for n in ref.plan.notes if n.startswith("calibration: ")]
    assert table.loc["", "calibration"] == note.removeprefix("calibration: ")
    assert "ncs2" in table.loc["", "calibration"]
    tight = [Constraint("latency_p99_ms", "max", float(ref.metrics.latency_ms["p99"]) * 0.5)]
    assert not what_if(experiment, row, GOALS, tight)["feasible"].any()


def test_question_is_read_from_the_header(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# Question: how many sticks,\n#   and where does it stop?\n#\n# Seed: x\n"
                    "name: x\n")
    assert question(str(path)) == "how many sticks, and where does it stop?"
    assert question(str(tmp_path / "missing.yaml")) == ""


def test_dimension_figure_has_a_panel_per_dimension_and_objective():
    fig = dimension_figure(_trials(), [COUNT, POLICY], GOALS)
    assert np.shape(fig.axes)[0] >= 4
    import matplotlib.pyplot as plt

    plt.close(fig)
    assert dimension_figure(_trials().iloc[0:0], [COUNT], GOALS) is None


def test_document_renders_markdown_and_self_contained_html():
    doc = Document("t")
    doc.text("a **b** `c<d>`")
    doc.table(["x", "y|z"], [["1", "2"]])
    doc.image("f.png", b"\x89PNG", "cap")
    md, html = doc.markdown(), doc.html()
    assert "| x | y\\|z |" in md and "![cap](f.png)" in md
    assert "<strong>b</strong>" in html and "<code>c&lt;d&gt;</code>" in html
    assert "data:image/png;base64,iVBORw==" in html and "f.png" not in html
    copy.deepcopy(doc)


def test_front_steps_cost_per_unit():
    from dse.report.study_report import front_steps

    table = ranked(distinct_configurations(_trials()), GOALS)
    steps = front_steps(table, GOALS)
    # front by throughput: 0 (140, $154) -> 3 (280, $253) -> 4 (420, $352) -> 5 (430, $451);
    # 7 ties with 0 (same values): a zero step
    assert list(steps["to"])[-3:] == [3, 4, 5]
    last = steps.iloc[-1]
    assert last["d:throughput_fps"] == pytest.approx(10.0)
    assert last["d:price_usd"] == pytest.approx(99.0)
    assert last["per:price_usd"] == pytest.approx(9.9)
    assert front_steps(table, GOALS[:1]).empty


def test_best_per_choice_in_yaml_order():
    from dse.report.study_report import best_per_choice

    per = best_per_choice(_trials(), POLICY, GOALS[0])
    assert list(per["value"]) == ["data_parallel", "threads"]
    assert list(per["best"]) == [430.0, 140.0]  # the infeasible 900 fps is not counted
    assert list(per["trials"]) == [4, 3]
    t = _trials()
    t = t[t[f"param:{POLICY.path}"] != "threads"]
    per = best_per_choice(t, POLICY, GOALS[0])
    assert per.iloc[1]["trials"] == 0 and pd.isna(per.iloc[1]["best"])


def test_what_if_steps_past_the_top_of_a_range():
    experiment = dse.load_experiment(
        dse.catalog.catalog_dir("experiments") / "multi_ncs.yaml",
        overrides={"stream.frames": 60, "stream.warmup": 6})
    best = {"platform.accelerators.ncs2.count": 4, "execution.policy": "data_parallel",
            "execution.threads": 8, "execution.infer_requests": 1}
    row = pd.Series({"trial": 0, **{f"param:{k}": v for k, v in best.items()},
                     "bottlenecks": "device ncs2:3"})
    table = what_if(experiment, row, GOALS, []).set_index("dimension")
    step = table.loc["platform.accelerators.ncs2.count"]
    assert "4 -> 5 (past the searched range)" in step["change"] and step["related"]
    five = dse.simulate(experiment, overrides={**best, "platform.accelerators.ncs2.count": 5})
    assert step["throughput_fps"] == pytest.approx(five.metrics.throughput_fps)
    assert step["price_usd"] == pytest.approx(five.metrics.price_usd)
    assert "execution.threads: 8 -> 9 (past" in table.loc["execution.threads", "change"]
