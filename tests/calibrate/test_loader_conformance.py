"""Every built-in loader passes the shared loader tests (dse.testing.loaders), on the table it
reads in the shared data folder; and loaders register as BaseLoader instances or classes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dse.calibrate.loaders import (
    LOADERS,
    BaseLoader,
    LoadResult,
    RegisteredLoader,
    finish,
    load,
    loader_names,
    register_loader,
)
from dse.testing.loaders import LoaderConformance


class TestCoral(LoaderConformance):
    loader = "coral"


class TestDeepEdgeBench(LoaderConformance):
    loader = "deepedgebench"


class TestEdgeAccel(LoaderConformance):
    loader = "edge_accel"


class TestMlperfMobile(LoaderConformance):
    loader = "mlperf_mobile"


class TestMlperfTiny(LoaderConformance):
    loader = "mlperf_tiny"


class TestMobileSoc(LoaderConformance):
    loader = "mobile_soc"


class TestNcnn(LoaderConformance):
    loader = "ncnn"
    comment = None  # device names contain '#'; the loader reads no comments


class TestTflite(LoaderConformance):
    loader = "tflite"
    comment = None


class TestVitis(LoaderConformance):
    loader = "vitis"


def test_every_builtin_loader_runs_the_suite():
    tested = {cls.loader for cls in LoaderConformance.__subclasses__()
              if cls.__module__ == __name__}
    assert set(loader_names()) <= tested


# ----- a loader of its own: a BaseLoader subclass, its sample built by the test ------------------

class Tiny(BaseLoader):
    """Maps rows whose ``model`` is a zoo name on the Raspberry Pi 4's CPU; leaves out the rest."""

    name = "tiny_test"
    filename = "tiny.csv"

    def load(self, file: Path) -> LoadResult:
        table = pd.read_csv(file, comment="#")
        rows, unmapped = [], []
        for i, r in enumerate(table.itertuples(index=False), start=2):
            if r.model != "resnet18":
                unmapped.append({"row": i, "device": "rpi4", "model": r.model,
                                 "reason": "no zoo model"})
                continue
            rows.append({"row": i, "device": "rpi4_cpu", "host": "", "link": "",
                         "runtime": "tflite_cpu", "workload": r.model, "options": "",
                         "precision": "fp32", "policy": "single", "threads": 1, "streams": 1,
                         "count": 1, "metric": "latency", "value": float(r.ms), "unit": "ms",
                         "source": "test"})
        return finish(self.name, rows, unmapped, file)


class Dropping(Tiny):
    """Drops the rows it cannot map without a word: what the suite exists to catch."""

    name = "dropping_test"

    def load(self, file: Path) -> LoadResult:
        full = super().load(file)
        return LoadResult(full.name, full.measurements, full.unmapped.iloc[:0],
                          full.source_rows)


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    path.write_text("# a comment line\nmodel,ms\nresnet18,120\nnot_a_model,3\nresnet18,121\n")
    return path


class TestTiny(LoaderConformance):
    loader = Tiny()

    @pytest.fixture(scope="class")
    @classmethod
    def sample_path(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
        path.write_text("model,ms\nresnet18,120\nnot_a_model,3\nresnet18,121\n")
        return path


def test_the_suite_catches_a_loader_that_drops_rows(tiny_csv):
    suite = TestTiny()
    result = Dropping().load(tiny_csv)
    with pytest.raises(AssertionError, match="neither mapped nor left out: \\[3\\]"):
        suite.test_every_row_is_mapped_or_left_out_with_a_reason(result, tiny_csv)


def test_finish_wants_the_file_row_of_every_mapped_row(tiny_csv):
    result = Tiny().load(tiny_csv)
    assert result.source_rows == (2, 4)
    with pytest.raises(ValueError, match="without the file row they came from"):
        finish("tiny_test", [{"device": "rpi4_cpu", "runtime": "tflite_cpu"}], [], tiny_csv)


def test_a_baseloader_registers_as_an_instance_or_a_class(monkeypatch, tiny_csv):
    monkeypatch.setattr(LOADERS, "_items", dict(LOADERS._items))
    monkeypatch.setattr(LOADERS, "_loaded", True)
    registered = register_loader(Tiny)
    assert isinstance(registered, Tiny) and LOADERS.get("tiny_test") is registered
    assert load("tiny_test", tiny_csv).source_rows == (2, 4)
    with pytest.raises(ValueError, match="already registered"):
        register_loader(Tiny())
    mine = Tiny()
    assert register_loader(mine, replace=True) is mine


def test_a_function_still_registers_by_name_and_file(monkeypatch, tiny_csv):
    monkeypatch.setattr(LOADERS, "_items", dict(LOADERS._items))
    monkeypatch.setattr(LOADERS, "_loaded", True)
    entry = register_loader("tiny_fn", "tiny.csv", Tiny().load)
    assert isinstance(entry, RegisteredLoader) and isinstance(entry, BaseLoader)
    assert load("tiny_fn", tiny_csv).source_rows == (2, 4)
    with pytest.raises(TypeError, match="give all three"):
        register_loader("tiny_fn2", "tiny.csv")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="takes no file name"):
        register_loader(Tiny(), "tiny.csv")  # type: ignore[call-overload]
