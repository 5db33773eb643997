import io
import json
import zipfile

import pytest
from studio_helpers import client_fixture, error, new_project, png, upload  # noqa: F401


def _zip(entries: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


MANIFEST = json.dumps({"format": "layercraft-project", "version": 1})


def _import(client, data: bytes, name: str = "p.lcp"):
    return client.post("/api/projects/import", files={"file": (name, data, "application/zip")})


def _strip_image_ids(canvas: dict) -> dict:
    for layer in canvas["layers"] + ([canvas["background"]] if canvas["background"] else []):
        layer.pop("image_id")
    return canvas


def test_export_then_import_gives_the_same_canvas(client):
    pid = new_project(client, 128, 96, prompt="two friends at the beach")["id"]
    upload(client, pid, png(30, 20), background=True)
    a = upload(client, pid, png(40, 40))["layer_id"]
    upload(client, pid, png(20, 50, (0, 0, 255, 128)))
    client.patch(f"/api/projects/{pid}/layers/{a}", json={"locked": True, "descriptor": "red", "z": "front",
                                                          "placement": {"rotation": 15.5, "flip_v": True}})
    r = client.get(f"/api/projects/{pid}/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="untitled.lcp"'
    imported = _import(client, r.content, "../../beach.lcp")
    assert imported.status_code == 201, imported.text
    assert imported.json()["name"] == "beach" and imported.json()["id"] != pid
    original = client.get(f"/api/projects/{pid}").json()["canvas"]
    assert _strip_image_ids(imported.json()["canvas"]) == _strip_image_ids(original)


@pytest.mark.parametrize(("data", "message"), [
    (b"PK\x03\x04 definitely not a zip", "project file: not a zip archive (corrupt or not a layercraft project)"),
    (_zip({"canvas.json": "{}"}), "project file: missing manifest.json"),
    (_zip({"manifest.json": MANIFEST, "canvas.json": "{not json"}),
     "project file: canvas.json is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
     "column 2 (char 1))"),
    (_zip({"manifest.json": json.dumps({"format": "layercraft-project", "version": 99}), "canvas.json": "{}"}),
     "project file: format version 99 is newer than this layercraft (1)"),
    (_zip({"manifest.json": MANIFEST, "canvas.json": json.dumps(
        {"width": 64, "height": 64, "layers": [{"id": "a", "image": "images/missing.png"}]})}),
     "project file: layer 0 ('a') image refers to missing image entry 'images/missing.png'"),
])
def test_malformed_project_files_are_refused(client, data, message):
    assert error(_import(client, data)) == (422, "bad_project", message)
    assert client.get("/api/projects").json() == []


@pytest.mark.parametrize("entry", ["../evil.png", "/etc/evil.png", "images/../../evil.png", "C:\\evil.png"])
def test_traversal_paths_inside_a_project_zip_are_refused(client, entry):
    data = _zip({"manifest.json": MANIFEST, "canvas.json": json.dumps(
        {"width": 64, "height": 64, "layers": [{"id": "a", "image": entry}]}), entry: png()})
    assert error(_import(client, data)) == (
        422, "bad_project", f"project file: unsafe entry name {entry!r} (absolute or '..' path)")


def test_bad_image_inside_a_project_is_refused(client):
    data = _zip({"manifest.json": MANIFEST, "images/a.png": b"not an image", "canvas.json": json.dumps(
        {"width": 64, "height": 64, "layers": [{"id": "a", "image": "images/a.png"}]})})
    assert error(_import(client, data)) == (
        422, "bad_project", "project file:images/a.png: not a recognised image format (corrupt or not an image)")


def test_collage_png_is_the_composite(client):
    from PIL import Image

    pid = new_project(client, 64, 64)["id"]
    upload(client, pid, png(64, 64, (0, 255, 0, 255)), background=True)
    r = client.get(f"/api/projects/{pid}/collage.png")
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (64, 64) and img.getpixel((10, 10)) == (0, 255, 0)
