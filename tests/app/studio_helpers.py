"""Helpers and fixtures for the studio tests (not a conftest: the suite-wide `conftest` name is taken)."""

import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from studio_fake_pipeline import FakePipeline

from layercraft.app import GenerationService, StudioConfig, create_app


def png(w: int = 64, h: int = 48, rgba=(200, 30, 30, 255), fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGBA", (w, h), rgba)
    (img.convert("RGB") if fmt == "JPEG" else img).save(buf, format=fmt)
    return buf.getvalue()


@contextmanager
def studio_client(tmp_path: Path, pipeline: FakePipeline | None = None, *, queue_size: int = 2,
                  timeout_s: float = 30.0, load=None, remover=None, **config) -> Iterator[TestClient]:
    pipe = pipeline or FakePipeline()
    service = GenerationService(load or (lambda: pipe), queue_size=queue_size, timeout_s=timeout_s,
                                model_name="fake")
    cfg = StudioConfig(data_dir=tmp_path / "data", **{"autosave_delay_s": 0.05, **config})
    app = create_app(cfg, service, remover=remover, static_dir=tmp_path / "no-static")
    # as the studio page calls it: addressed to this machine, changes marked with the studio header
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Layercraft-Studio": "1"}) as client:
        yield client


@pytest.fixture(name="client")
def client_fixture(tmp_path) -> Iterator[TestClient]:
    with studio_client(tmp_path) as c:
        yield c


def new_project(client: TestClient, w: int = 128, h: int = 96, prompt: str = "two friends") -> dict:
    r = client.post("/api/projects", json={"width": w, "height": h, "prompt": prompt})
    assert r.status_code == 201, r.text
    return r.json()


def upload(client: TestClient, pid: str, data: bytes | None = None, name: str = "a.png", **form) -> dict:
    r = client.post(f"/api/projects/{pid}/layers", files={"file": (name, data or png(), "image/png")},
                    data={k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()})
    assert r.status_code == 201, r.text
    return r.json()


def wait_job(client: TestClient, job_id: str, until: Callable[[dict], bool] | None = None,
             timeout: float = 10.0) -> dict:
    until = until or (lambda j: j["state"] in {"succeeded", "failed", "cancelled", "timed_out"})
    end = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < end, f"job never reached the wanted state: {job}"
        time.sleep(0.02)


def error(r) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["error"]["code"], body["error"]["message"]
