"""Shared fixtures, and what keeps live timing out of the test verdicts.

Hypothesis fails an example that takes longer than its ``deadline`` (200 ms by default) and a
strategy that generates data slowly (health check ``too_slow``): on a shared, loaded machine
that is a verdict on wall-clock speed. The ``dse`` profile below turns both off; tests may still
pass ``@settings(max_examples=...)``, which inherits the rest.

The name ``host`` is an ordinary catalog name: tests load the recorded probe of the machine
that measured the committed host data (``calibration/host/``). A live probe
(:func:`dse.devices.host.measure_probe`) measures whatever machine runs the tests, so outside
benchmarks a test may only run one when marked ``live_host`` (and then checks properties, never
figures); any other test gets an error naming the recorded alternative. ``DSE_CATALOG`` (extra
catalog folders) is cleared so the user's own folders do not leak into the built-in catalog.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dse")

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    os.environ.pop("DSE_CATALOG", None)
    config.addinivalue_line(
        "markers", "live_host: probes this machine (dse.devices.host.measure_probe, live "
        "timings); such a test checks properties only, never figures")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _no_live_host_probe(request: pytest.FixtureRequest,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("live_host") or request.node.get_closest_marker(
            "benchmark"):
        return
    import dse.devices.host as host

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(
            "a test probed this machine live (dse.devices.host.measure_probe): its figures "
            "vary from run to run. Use the recorded probe, Catalog(catalog_dir('devices'), "
            "catalog_dir('calibration') / 'host'), or mark the test live_host and check "
            "properties only.")

    # probe() and write_probe() call it through the module, so this catches every route.
    monkeypatch.setattr(host, "measure_probe", refuse)
