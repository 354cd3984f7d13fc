"""The loader tests (and the fitter-versus-catalog checks) read the shared measurement tables (../shared/data, or $DSE_DATA)."""

from __future__ import annotations

import pytest

from dse.calibrate.loaders import data_dir


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if data_dir().is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared measurement tables not found at {data_dir()} "
                                   f"(set DSE_DATA)")
    for item in items:
        if "test_loader_" in item.nodeid or "loader_maps" in item.nodeid or \
                "test_one_cost_model" in item.nodeid:
            item.add_marker(skip)
