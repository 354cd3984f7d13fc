"""The policy column: rows of the policies the forward model predicts, each one registered."""

from __future__ import annotations

import pandas as pd
import pytest

from dse.calibrate import MeasurementError, validate
from dse.calibrate.forward import PREDICTED_POLICIES
from dse.sim.policies import policy_names


def _rows(policy: str) -> pd.DataFrame:
    return pd.DataFrame([{
        "device": "ncs2", "host": "raspberry_pi4", "link": "usb3", "runtime": "openvino_myriad",
        "workload": "googlenet", "options": "", "precision": "fp16", "policy": policy,
        "threads": 1, "streams": 1, "count": 1, "metric": "latency", "value": 90.0,
        "unit": "ms", "source": "test", "dataset": "t"}])


def test_every_predicted_policy_is_a_registered_policy():
    assert set(PREDICTED_POLICIES) <= set(policy_names())


@pytest.mark.parametrize("policy", PREDICTED_POLICIES)
def test_rows_of_a_predicted_policy_are_valid(policy):
    assert validate(_rows(policy))["policy"].tolist() == [policy]


def test_a_registered_policy_the_forward_model_cannot_predict_is_named_as_such():
    other = next(p for p in policy_names() if p not in PREDICTED_POLICIES)
    with pytest.raises(MeasurementError, match=rf"row 2, column policy: policy '{other}' cannot "
                       r"be calibrated: the forward model predicts rows of single, threads, "
                       r"data_parallel, coexec only"):
        validate(_rows(other))


def test_an_unknown_policy_lists_the_predicted_ones():
    with pytest.raises(MeasurementError, match=r"row 2, column policy: expected one of single, "
                       r"threads, data_parallel, coexec, got 'round_robin'"):
        validate(_rows("round_robin"))
