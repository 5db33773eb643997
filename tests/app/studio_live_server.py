"""A real studio server on 127.0.0.1 in a background thread, for browser tests and screenshots."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from studio_fake_pipeline import FakePipeline

from layercraft.app import GenerationService, StudioConfig, create_app
from layercraft.app.server import STATIC

FRONTEND = STATIC.parent / "frontend"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def ensure_frontend_built() -> None:
    """Build the front end if the set-up has not (needs npm and the registry); raise if impossible."""
    if (STATIC / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"front end not built ({STATIC} missing) and npm is not installed")
    for args in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
        subprocess.run([npm, *args], cwd=FRONTEND, check=True, timeout=300, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_studio(data_dir: Path, pipeline: FakePipeline) -> Iterator[str]:
    port = _free_port()
    service = GenerationService(lambda: pipeline, queue_size=2, timeout_s=60, model_name="test double")
    app = create_app(StudioConfig(data_dir=data_dir, autosave_delay_s=0.1), service, remover=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="studio-e2e", daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
