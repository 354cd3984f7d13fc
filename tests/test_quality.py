"""The code base stays lint-clean (ruff), type-clean (mypy on dse/) and layered (import-linter:
the contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (python3 dev.py test installs it)")
    return exe


def test_ruff(root):
    proc = subprocess.run([_tool("ruff"), "check", "--no-cache", "dse", "tests", "dev.py",
                           "setup.py"], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy(root, tmp_path):
    proc = subprocess.run([_tool("mypy"), "--cache-dir", str(tmp_path / "mypy")], cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_and_no_import_cycles(root):
    proc = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=root, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
