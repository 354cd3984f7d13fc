#!/usr/bin/env python3
"""Set up the project and run its main job or its tests, with nothing but python3.

    python3 dev.py run     # create .venv, install dse, run the main job
    python3 dev.py test    # create .venv, install dse and test tools (and, as root, Debian's
                           # PostgreSQL server for the distributed-search test), run the tests

Extra arguments are passed on: ``python3 dev.py test -k zoo``, ``python3 dev.py run dse --help``.
The virtual environment is reinstalled only when pyproject.toml or setup.py change.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# The main job: the headline search (how many NCS2 sticks, threads and infer requests on a
# Raspberry Pi 4); results in out/multi_ncs/, and a second run resumes the same study.
MAIN_JOB = ["dse", "explore", "experiments/multi_ncs.yaml"]


def _stamp() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "setup.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def setup() -> None:
    """Create .venv and install dse (editable) with its test tools, if not done already."""
    stamp_file = VENV / ".dse-installed"
    if stamp_file.is_file() and stamp_file.read_text() == _stamp():
        return
    if not (BIN / "python").exists():
        print("creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    print("installing dse and its dependencies into .venv", flush=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    stamp_file.write_text(_stamp())


def postgres() -> None:
    """The test suite runs a throwaway PostgreSQL server (tests/search/postgres.py): install
    Debian's server package if its binaries are missing (as root; otherwise say how)."""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing the PostgreSQL server for the tests (apt-get install postgresql)",
              flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "postgresql"], check=True, env=env, stdout=subprocess.DEVNULL)
    else:
        print("warning: the PostgreSQL server is not installed and this is not a root shell "
              "with apt-get; tests/search will fail. Install it with: sudo apt-get install -y "
              "--no-install-recommends postgresql", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if command == "setup":
        return 0
    if command == "run":
        args = rest or MAIN_JOB
        return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, env=env).returncode
    postgres()
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT,
                          env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
