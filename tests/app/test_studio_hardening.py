"""The studio under hostile requests: one set of limits with the loader, 4xx JSON for every refusal,
Host / Origin / studio-header checks, bodies capped while they stream, nothing lost or left behind."""

import asyncio
import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from studio_helpers import client_fixture, error, new_project, png, studio_client, upload  # noqa: F401

from layercraft.app import GenerationService, StudioConfig, create_app
from layercraft.app.security import StudioGuard
from layercraft.canvas import Canvas, Layer, save_project

MANIFEST = json.dumps({"format": "layercraft-project", "version": 1})


def project_zip(canvas: dict, images: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", MANIFEST)
        zf.writestr("canvas.json", json.dumps(canvas).encode("utf-8", "surrogatepass"))
        for name, data in images.items():
            zf.writestr(name, data)
    return buf.getvalue()


def one_layer(**fields) -> dict:
    canvas = {"width": 64, "height": 64, "layers": [{"id": "a", "image": "images/a.png"}]}
    canvas["layers"][0].update(fields.pop("layer", {}))
    canvas.update(fields)
    return canvas


def _import(client, data: bytes, name: str = "p.lcp"):
    return client.post("/api/projects/import", files={"file": (name, data, "application/zip")})


# ---- 1. an image shared by every layer is held once ------------------------------------------

def test_an_imported_image_shared_by_all_layers_is_held_once(client):
    canvas = {"width": 64, "height": 64,
              "layers": [{"id": f"l{i}", "image": "images/a.png", "identity_refs": ["images/a.png"] * 8}
                         for i in range(32)]}
    r = _import(client, project_zip(canvas, {"images/a.png": png(512, 512)}))
    assert r.status_code == 201, r.text
    doc = client.app.state.studio.store.get(r.json()["id"])
    assert doc.pixels() == 512 * 512


def test_uploads_past_the_project_pixel_budget_are_refused(tmp_path):
    from dataclasses import replace

    from layercraft.canvas.limits import LIMITS

    with studio_client(tmp_path, limits=replace(LIMITS, max_project_pixels=3 * 64 * 64)) as c:
        pid = new_project(c)["id"]
        doc = c.app.state.studio.store.get(pid)
        first = upload(c, pid, png(64, 64))["layer_id"]
        upload(c, pid, png(64, 64))
        r = c.post(f"/api/projects/{pid}/layers", files={"file": ("big.png", png(128, 128), "image/png")})
        assert r.status_code == 413 and r.json()["error"]["code"] == "over_limit", r.text
        assert len(doc.canvas.layers) == 2
        assert c.delete(f"/api/projects/{pid}/layers/{first}").status_code == 200
        upload(c, pid, png(64, 64))  # the deleted layer's pixels made room
        upload(c, pid, png(64, 64))
        assert doc.pixels() <= 3 * 64 * 64


def test_more_layers_than_the_limit_are_refused(client):
    pid = new_project(client)["id"]
    layer_id = upload(client, pid)["layer_id"]
    for _ in range(31):
        assert client.post(f"/api/projects/{pid}/layers/{layer_id}/duplicate").status_code == 201
    r = client.post(f"/api/projects/{pid}/layers/{layer_id}/duplicate")
    assert r.status_code == 413 and "32 layers" in r.json()["error"]["message"]
    assert client.get(f"/api/projects/{pid}").status_code == 200


# ---- 2. the placement scale is bounded ---------------------------------------------------------

@pytest.mark.parametrize("scale", [1e5, 1e308, 1e-9])
def test_an_unbounded_scale_is_refused_and_the_collage_still_renders(client, scale):
    pid = new_project(client, 64, 64)["id"]
    lid = upload(client, pid, png(32, 32))["layer_id"]
    r = client.patch(f"/api/projects/{pid}/layers/{lid}", json={"placement": {"scale": scale}})
    assert r.status_code == 422 and "placement.scale must be in" in r.json()["error"]["message"]
    r = client.patch(f"/api/projects/{pid}/layers/{lid}", json={"placement": {"scale": 256.0, "x": -4000.0}})
    assert r.status_code == 200, r.text
    r = client.get(f"/api/projects/{pid}/collage.png")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (64, 64)


# ---- 4, 5. what the loader accepts the API can serve; refusals are 4xx and create nothing -----

@pytest.mark.parametrize("canvas, status", [
    (one_layer(prompt="p" * 5000), 422),
    (one_layer(layer={"name": "n" * 300}), 422),
    (one_layer(layer={"descriptor": "d" * 600}), 422),
    (one_layer(layer={"name": "\ud800"}), 422),
    (one_layer(width=8192), 413),
    ({"width": 64, "height": 64, "layers": [{"id": f"l{i}", "image": "images/a.png"} for i in range(70)]}, 413),
])
def test_imports_over_the_limits_are_refused_and_create_nothing(client, canvas, status):
    r = _import(client, project_zip(canvas, {"images/a.png": png(8, 8)}))
    assert r.status_code == status, r.text
    assert client.get("/api/projects").json() == []


def test_corrupt_project_uploads_are_422_not_500(client):
    from layercraft.examples import example_path

    base = example_path().read_bytes()
    for data in (base[: len(base) // 2], base[:-10], base.replace(b"IDAT", b"IDAX"), b"PK\x05\x06" + b"\0" * 18):
        r = _import(client, data)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "bad_project"


def test_a_long_layer_name_from_an_upload_is_refused_and_the_project_stays_readable(client):
    pid = new_project(client)["id"]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("a.png", png(), "image/png")},
                    data={"name": "n" * 300})
    assert r.status_code == 422 and "layer name is 300 characters" in r.json()["error"]["message"]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("f" * 300 + ".png", png(), "image/png")})
    assert r.status_code == 201  # a long file name is shortened, not refused
    assert client.get(f"/api/projects/{pid}").status_code == 200


# ---- 6. bodies are capped while they stream -----------------------------------------------------

def test_a_json_body_over_the_limit_is_413(client):
    pid = new_project(client)["id"]
    body = json.dumps({"canvas": {"width": 64, "height": 64, "prompt": "x" * (2 << 20)}, "settings": {}})
    r = client.put(f"/api/projects/{pid}", content=body, headers={"content-type": "application/json"})
    assert error(r)[:2] == (413, "body_too_large")


def _asgi_request(app, method: str, path: str, chunks: list[bytes], headers: dict[str, str]):
    """Drive the ASGI app with a streamed body; returns (status, body, chunks the app consumed)."""
    consumed = []
    sent = []

    async def receive():
        if len(consumed) < len(chunks):
            consumed.append(chunks[len(consumed)])
            return {"type": "http.request", "body": consumed[-1], "more_body": len(consumed) < len(chunks)}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 5000), "root_path": ""}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, consumed


def test_an_upload_without_content_length_stops_being_read_at_the_cap(tmp_path):
    service = GenerationService(lambda: None, queue_size=1, timeout_s=5, model_name="none")
    app = create_app(StudioConfig(data_dir=tmp_path, max_project_bytes=1 << 20), service, remover=None,
                     static_dir=tmp_path / "none")
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.lcp\"\r\n"
            "Content-Type: application/zip\r\n\r\n").encode()
    chunks = [head] + [b"\0" * (64 << 10)] * 200  # 12.5 MiB, never announced
    headers = {"host": "127.0.0.1:8765", "x-layercraft-studio": "1",
               "content-type": f"multipart/form-data; boundary={boundary}"}
    status, body, consumed = _asgi_request(app, "POST", "/api/projects/import", chunks, headers)
    assert status == 413 and json.loads(body)["error"]["code"] == "upload_too_large"
    assert sum(map(len, consumed)) <= (1 << 20) + (64 << 10) + (128 << 10)  # stopped at the cap


def test_a_declared_content_length_over_the_cap_is_refused_unread(tmp_path):
    status, body, consumed = _asgi_request(StudioGuard(None, StudioConfig(data_dir=tmp_path)), "PUT",
                                           "/api/projects/p00000000", [b"{}"],
                                           {"host": "localhost", "x-layercraft-studio": "1",
                                            "content-length": str(10 << 20)})
    assert status == 413 and consumed == []


# ---- 7. Host, Origin and the studio header --------------------------------------------------

@pytest.fixture(name="raw")
def raw_client(tmp_path):
    """A client that sends only the headers each test gives it."""
    service = GenerationService(lambda: None, queue_size=1, timeout_s=5, model_name="none")
    app = create_app(StudioConfig(data_dir=tmp_path, autosave_delay_s=0.05, allowed_hosts=("studio.lan",)), service,
                     remover=None, static_dir=tmp_path / "none")
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


def test_foreign_hosts_are_refused(raw):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil"):
        r = raw.get("/api/info", headers={"host": host})
        assert error(r)[:2] == (403, "forbidden_host"), host
    for host in ("127.0.0.1:8765", "localhost", "[::1]:8765", "LOCALHOST:1", "studio.lan:8765"):
        assert raw.get("/api/info", headers={"host": host}).status_code == 200, host


def test_state_changes_need_the_studio_header_and_a_same_origin(raw):
    body = {"width": 64, "height": 64}
    assert error(raw.post("/api/projects", json=body))[:2] == (403, "missing_studio_header")
    marked = {"x-layercraft-studio": "1"}
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999", "http://localhost:8765"):
        r = raw.post("/api/projects", json=body, headers={**marked, "origin": origin})
        assert error(r)[:2] == (403, "forbidden_origin"), origin
    r = raw.post("/api/projects", json=body, headers={**marked, "sec-fetch-site": "cross-site"})
    assert error(r)[:2] == (403, "forbidden_origin")
    r = raw.post("/api/import-nothing", headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    files = {"file": ("p.lcp", b"PK", "application/zip")}
    assert raw.post("/api/projects/import", files=files).status_code == 403  # a plain HTML form cannot add it
    r = raw.post("/api/projects", json=body, headers={**marked, "origin": "http://127.0.0.1:8765",
                                                      "sec-fetch-site": "same-origin"})
    assert r.status_code == 201, r.text
    assert raw.get("/api/projects").status_code == 200  # reads need no header


# ---- 8. numbers and ids the studio used to answer with 500 ---------------------------------

def test_huge_numbers_and_event_ids_are_not_500(client):
    pid = new_project(client)["id"]
    r = client.post("/api/projects", content='{"width": ' + "9" * 5000 + "}",
                    headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    r = client.put(f"/api/projects/{pid}", content="[" * 100_000 + "]" * 100_000,
                   headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    job = client.post(f"/api/projects/{pid}/jobs", json={}).json()
    r = client.get(f"/api/jobs/{job['id']}/events", headers={"last-event-id": "9" * 5000})
    assert r.status_code in (200, 422), r.text


# ---- 11. temp files, and imports that survive a kill ---------------------------------------

def test_stale_temp_files_are_removed_on_start_and_imports_are_on_disk_at_once(tmp_path):
    folder = tmp_path / "data" / "projects" / "p0123abcd"
    (folder / "results").mkdir(parents=True)
    save_project(Canvas(width=64, height=64, layers=[Layer(id="a", image=Image.new("RGBA", (8, 8), "red"))]),
                 folder / "project.lcp")
    stale = [folder / ".project.lcp.k2j4h.tmp", folder / ".state.json.tmp", folder / "results" / ".j1.png.tmp"]
    for path in stale:
        path.write_bytes(b"x" * 1000)
    with studio_client(tmp_path, autosave_delay_s=3600) as c:
        assert not any(p.exists() for p in stale)
        assert c.get("/api/projects/p0123abcd").status_code == 200
        r = _import(c, project_zip(one_layer(), {"images/a.png": png(8, 8)}))
        assert r.status_code == 201
        saved = tmp_path / "data" / "projects" / r.json()["id"] / "project.lcp"
        assert saved.is_file()  # written before the answer, not on the autosave's schedule
        c.app.state.studio.store._docs.clear()
        assert c.get(f"/api/projects/{r.json()['id']}").status_code == 200


def test_a_failed_state_write_leaves_no_temp_file(tmp_path, monkeypatch):
    from pathlib import Path

    from layercraft.app import store

    target = tmp_path / "state.json"

    def fail(self, other):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store._write_text_atomic(target, "{}")
    assert list(tmp_path.iterdir()) == []


# ---- 12. strict types in the API ---------------------------------------------------------------

@pytest.mark.parametrize("patch", [{"placement": {"x": True}}, {"placement": {"scale": "1"}}, {"locked": "true"},
                                   {"visible": 1}, {"z": "1"}, {"placement": {"flip_h": 0}}])
def test_patch_values_must_have_their_own_types(client, patch):
    pid = new_project(client)["id"]
    lid = upload(client, pid)["layer_id"]
    assert client.patch(f"/api/projects/{pid}/layers/{lid}", json=patch).status_code == 422


@pytest.mark.parametrize("settings", [{"steps": "10"}, {"seed": True}, {"guidance": "3"}, {"steps": 201}])
def test_settings_must_have_their_own_types(client, settings):
    pid = new_project(client)["id"]
    state = client.get(f"/api/projects/{pid}").json()
    r = client.put(f"/api/projects/{pid}", json={"canvas": state["canvas"], "settings": {**state["settings"],
                                                                                           **settings}})
    assert r.status_code == 422, r.text


def test_ids_with_a_trailing_newline_are_refused(client):
    pid = new_project(client)["id"]
    lid = upload(client, pid)["layer_id"]
    state = client.get(f"/api/projects/{pid}").json()
    state["canvas"]["layers"][0]["id"] = lid + "\n"
    r = client.put(f"/api/projects/{pid}", json={"canvas": state["canvas"], "settings": state["settings"]})
    assert r.status_code == 422 and "layer id" in r.text
    assert client.get(f"/api/projects/{pid}%0A").status_code == 404


def test_info_and_the_docs_state_every_limit(client):
    from dataclasses import asdict, fields
    from pathlib import Path

    from layercraft.canvas.limits import LIMITS, Limits

    assert client.get("/api/info").json()["limits"] == asdict(LIMITS)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "app" / "README.md").read_text()
    assert [f.name for f in fields(Limits) if f"`{f.name}`" not in docs] == []


def test_fuzzed_imports_are_created_or_refused_with_4xx(client):
    import importlib.util
    import sys
    import warnings
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_projects.py"
    spec = importlib.util.spec_from_file_location("fuzz_projects_for_api", script)
    fuzz = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fuzz  # its dataclasses look their module up
    spec.loader.exec_module(fuzz)
    statuses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _, (kind, data) in zip(range(80), fuzz.Mutator(3, big_side=1024), strict=False):
            r = _import(client, data)
            assert r.status_code in (201, 413, 415, 422), (kind, r.status_code, r.text)
            assert r.json().get("error", {}).get("code") != "internal_error"
            if r.status_code == 201:  # what was created can be served
                assert client.get(f"/api/projects/{r.json()['id']}").status_code == 200
            statuses.append(r.status_code)
    assert 201 in statuses and 422 in statuses
