"""Ship the catalog folders (devices/, workloads/, experiments/, calibration/) inside the
package, so that a non-editable install finds them from any directory (see dse/catalog.py)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CATALOG = ("devices", "workloads", "experiments", "calibration")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.onnx.data", "out")


class BuildWithCatalog(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for name in CATALOG:
            src = root / name
            if src.is_dir():
                dst = Path(self.build_lib) / "dse" / "_catalog" / name
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithCatalog})
