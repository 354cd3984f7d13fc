"""Shared fixtures, and what keeps live timing out of the test verdicts.

Hypothesis fails an example that takes longer than its ``deadline`` (200 ms by default) and a
strategy that generates data slowly (health check ``too_slow``): on a shared, loaded machine
that is a verdict on wall-clock speed. The ``dse`` profile below turns both off; tests may still
pass ``@settings(max_examples=...)``, which inherits the rest.

Resolving the name ``host`` in a catalog that has no such entry runs
:func:`dse.devices.host.detect_host`, which times a memory copy on whatever machine runs the
tests: figures computed from it differ from run to run and from machine to machine. Outside
benchmarks, a test may only do that when marked ``live_host`` (and then checks properties, never
figures); any other test gets an error naming the recorded alternative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dse")

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live_host: detects this machine (dse.devices.host.detect_host, a live "
        "memory-copy measurement); such a test checks properties only, never figures")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _no_live_host_detection(request: pytest.FixtureRequest,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("live_host") or request.node.get_closest_marker(
            "benchmark"):
        return
    import dse.devices.host as host

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(
            "a test resolved the device or platform 'host', which detects and measures this "
            "machine live (dse.devices.host.detect_host): its figures vary from run to run. Use "
            "a recorded host, Catalog(catalog_dir('devices'), catalog_dir('calibration') / "
            "'host_example_device'), or mark the test live_host and check properties only.")

    # Catalog.device and Catalog.platform import these at call time, so patching the module
    # attributes catches every route to a detection.
    monkeypatch.setattr(host, "detect_host", refuse)
    monkeypatch.setattr(host, "host_platform", refuse)
