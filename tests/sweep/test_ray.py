"""The Ray engine gives the local engine's results (one local Ray instance of 2 CPUs for the
module: starting Ray takes seconds)."""

from __future__ import annotations

import pandas as pd
import pytest

from dse.errors import DseError
from dse.sweep import load_results, run_sweep
from dse.sweep.ray_engine import check_address, local_init_options
from tests.sweep.common import OPTIONS, TARGETS

ray = pytest.importorskip("ray")


def test_a_ray_instance_the_sweep_starts_is_shut_down_after_it(tmp_path):
    if ray.is_initialized():
        pytest.skip("a Ray instance runs already")
    result = run_sweep("zoo", TARGETS[:1], options={"models": "resnet8,ds_cnn"},
                       out=tmp_path / "s", engine="ray", workers=1)
    assert result.complete and result.evaluated == 1
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_session():
    started = not ray.is_initialized()
    if started:
        ray.init(**local_init_options(2))
    yield
    if started:
        ray.shutdown()


def test_ray_with_two_workers_gives_the_local_results(tmp_path, ray_session):
    local = run_sweep("zoo", TARGETS, options=OPTIONS, chunk=2, out=tmp_path / "local")
    on_ray = run_sweep("zoo", TARGETS, options=OPTIONS, chunk=2, out=tmp_path / "ray",
                       engine="ray", workers=2)
    assert local.complete and on_ray.complete and on_ray.evaluated == 3
    a, _ = load_results(tmp_path / "local")
    b, _ = load_results(tmp_path / "ray")
    pd.testing.assert_frame_equal(a, b)
    assert ray.is_initialized()  # a Ray instance the sweep found is left running


def test_ray_resumes_a_local_sweep(tmp_path, ray_session):
    out = tmp_path / "s"
    run_sweep("zoo", TARGETS, options=OPTIONS, chunk=2, out=out, max_chunks=2)
    rest = run_sweep("zoo", TARGETS, options=OPTIONS, chunk=2, out=out, engine="ray")
    assert rest.evaluated == 1 and rest.complete


def test_an_unreachable_address_is_one_clear_error(tmp_path):
    with pytest.raises(DseError, match=r"127\.0\.0\.1:1: no Ray cluster reachable there"):
        run_sweep("zoo", TARGETS, options=OPTIONS, out=tmp_path / "s", engine="ray",
                  address="127.0.0.1:1")
    assert not (tmp_path / "s").exists()
    with pytest.raises(DseError, match="expected HOST:PORT"):
        check_address("nowhere")
    with pytest.raises(DseError, match="--address: joins a Ray cluster"):
        run_sweep("zoo", TARGETS, options=OPTIONS, out=tmp_path / "s", address="auto")
