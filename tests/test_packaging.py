"""A regular (non-editable) install ships the catalog folders and finds them from anywhere."""

from __future__ import annotations

import json
import subprocess
import sys

from dse.catalog import CATALOG_FOLDERS


def test_non_editable_install_finds_catalog(tmp_path, root):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(root)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import json, dse, dse.catalog as c; "
        "print(dse.__file__); "
        f"print(json.dumps([str(c.catalog_dir(f)) for f in {CATALOG_FOLDERS!r}])); "
        "from dse.devices import default_catalog; "
        "print(json.dumps(sorted(default_catalog().devices)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=elsewhere, env={"PYTHONPATH": str(target), "PATH": ""}, check=True)
    module_file, dirs, devices = proc.stdout.splitlines()
    assert module_file.startswith(str(target))
    for folder, path in zip(CATALOG_FOLDERS, json.loads(dirs), strict=True):
        assert path == str(target / "dse" / "_catalog" / folder)
    assert (target / "dse" / "_catalog" / "workloads" / "README.md").is_file()
    assert (target / "dse" / "py.typed").is_file()
    shipped = sorted(p.stem for p in (root / "devices").glob("*.yaml"))
    assert json.loads(devices) == shipped
