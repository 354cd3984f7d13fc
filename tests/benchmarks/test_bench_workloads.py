"""Benchmarks of the ONNX frontend (deselected by default; run with ``-m benchmark -s``, smoke
mode with ``DSE_BENCH_SMOKE=1``: one timing each, a small model for memory, see
tests/benchmarks/timing.py).

Speed is reported as a ratio against a baseline measured in the same run (this machine is
shared and noisy): reading a model with dse against merely parsing it with ``onnx.load``.
Memory: the frontend never copies weight data (shape inference runs on a weight-free skeleton),
so the peak private memory of reading a large model stays near the size of the file itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest

import dse
from dse.workloads import zoo
from tests.benchmarks.timing import best_of, finite, pick, smoke

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "bert_encoder", "inception_v4"])
def test_frontend_speed_against_onnx_load(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    onnx.save(zoo.build(name), str(path))
    baseline = best_of(lambda: onnx.load(str(path)))
    ours = best_of(lambda: dse.workload(path))
    nodes = dse.workload(path).nodes
    print(f"\n{name}: {nodes} nodes, onnx.load {baseline * 1e3:.1f} ms, dse.workload "
          f"{ours * 1e3:.1f} ms, ratio {ours / baseline:.2f}x")
    finite(onnx_load_s=baseline, dse_workload_s=ours, ratio=ours / baseline)


_MEMORY_PROBE = """
import json, sys, threading, time
import onnx
import dse  # numpy, onnx, networkx, pandas are imported before measuring


def anon_kb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])


peak, done = [anon_kb()], threading.Event()


def sample():
    while not done.is_set():
        peak[0] = max(peak[0], anon_kb())
        time.sleep(0.002)


before = anon_kb()
thread = threading.Thread(target=sample)
thread.start()
if sys.argv[2] == "dse":
    dse.workload(sys.argv[1])
else:  # the obvious way: shape inference on the loaded model, which copies it
    onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]), data_prop=True)
done.set()
thread.join()
print(json.dumps({"peak_growth_kb": max(peak[0], anon_kb()) - before}))
"""


def _peak_private_growth(path, mode):
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path), mode],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)["peak_growth_kb"] * 1024


def test_peak_private_memory_of_a_large_model(tmp_path):
    name = pick("vgg16", "squeezenet1_1")
    path = tmp_path / f"{name}.onnx"
    onnx.save(zoo.build(name), str(path))
    size = path.stat().st_size
    ours = _peak_private_growth(path, "dse") / size
    baseline = _peak_private_growth(path, "infer_shapes") / size
    print(f"\n{path.name} {size / 2**20:.0f} MiB: peak private (anonymous) memory growth "
          f"dse.workload {ours:.2f}x the file size, onnx.load + infer_shapes {baseline:.2f}x")
    finite(dse_x=ours, infer_shapes_x=baseline)
    if not smoke():  # a small model's growth is mostly dse's own tables, not its weights
        # Shape inference on the whole model serializes and re-parses it: weights held 2-3
        # times. A memory property of the frontend (no weight copies), not a speed.
        assert ours < 1.5
