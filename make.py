#!/usr/bin/env python3
"""One entry point for a fresh machine: set up `.venv/` if needed, then run a job.

    python3 make.py demo    # install what is missing, run the main job on the embedded default
    python3 make.py test    # install what is missing, run the whole test suite (what CI runs)

Set-up is idempotent: the installed state is keyed by a hash of pyproject.toml, so a second run
with nothing changed skips pip entirely. torch is installed first and pinned (its CPU build lies on
local disk); installing it on its own keeps any resolver from choosing a multi-GB CUDA build.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".layercraft-installed"
TORCH = "torch==2.13.0"


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()


def setup() -> None:
    if not PY.exists():
        _run([sys.executable, "-m", "venv", VENV])
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run(pip + [TORCH])
    _run(pip + ["-e", ".[dev]"])
    STAMP.write_text(_fingerprint())


def main(argv: list[str]) -> int:
    jobs = {
        "demo": [BIN / "layercraft", "demo", "--out", "out/demo"],
        "test": [PY, "-m", "pytest"],
        "lint": [BIN / "ruff", "check", "src", "tests", "scripts", "make.py"],
    }
    if len(argv) < 2 or argv[1] not in jobs:
        print(__doc__)
        print("jobs:", ", ".join(jobs))
        return 2
    setup()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        _run(jobs[argv[1]] + argv[2:], env=env)
    except subprocess.CalledProcessError as err:
        return err.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
