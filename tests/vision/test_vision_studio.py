"""The studio with real photos: bundled background removal, split into people, the layout canvas."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from studio_helpers import new_project, studio_client  # noqa: E402

from layercraft.app.background_removal import detect_remover  # noqa: E402
from layercraft.canvas import landmarks_on_canvas, load_project  # noqa: E402


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def test_remove_background_uses_the_bundled_cutout(tmp_path, astronaut):
    remover = detect_remover()
    assert remover is not None
    with studio_client(tmp_path, remover=remover) as c:
        assert c.get("/api/info").json()["background_removal"]["available"] is True
        pid = new_project(c, 128, 128)["id"]
        r = c.post(f"/api/projects/{pid}/layers", files={"file": ("a.jpg", _jpeg(astronaut), "image/jpeg")},
                   data={"remove_background": "true"})
        assert r.status_code == 201, r.text
        layer_id = r.json()["layer_id"]
        path = tmp_path / "out.lcp"
        path.write_bytes(c.get(f"/api/projects/{pid}/export").content)
    a = np.asarray(load_project(path).layer(layer_id).image)[..., 3]
    assert a[:12, :12].max() < 40 and a[100:140, 200:250].mean() > 200  # corners out, face in


def test_split_into_people_and_place_on_a_layout_photo(tmp_path, analyzer, astronaut, grace):
    two = Image.new("RGB", (1024, 600), (200, 200, 200))
    two.paste(astronaut, (0, 88))
    two.paste(grace, (512, 0))
    prior = Image.new("RGB", (512, 256), (90, 120, 160))
    prior.paste(astronaut.resize((128, 128)), (60, 100))
    prior.paste(grace.resize((150, 176)), (320, 50))
    with studio_client(tmp_path) as c:
        pid = new_project(c, 256, 128)["id"]
        r = c.post(f"/api/projects/{pid}/people", files={"file": ("two.jpg", _jpeg(two), "image/jpeg")})
        assert r.status_code == 201, r.text
        assert len(r.json()["layer_ids"]) == 2
        r = c.post(f"/api/projects/{pid}/from-photos",
                   files=[("files", ("a.jpg", _jpeg(astronaut), "image/jpeg")),
                          ("files", ("g.jpg", _jpeg(grace), "image/jpeg")),
                          ("prior", ("prior.jpg", _jpeg(prior), "image/jpeg"))],
                   data={"scheme": "layercomposer"})
        assert r.status_code == 201, r.text
        placed = r.json()["layer_ids"]
        assert len(placed) == 2
        r = c.post(f"/api/projects/{pid}/from-photos", files=[("files", ("c.png", _png_no_face(), "image/png"))])
        assert r.status_code == 422 and r.json()["error"]["code"] == "no_face"
        r = c.post(f"/api/projects/{pid}/people", files={"file": ("bad.jpg", _jpeg(two)[:3000], "image/jpeg")})
        assert r.status_code == 415 and "truncated" in r.json()["error"]["message"]
        many = [("files", (f"{k}.jpg", _jpeg(astronaut), "image/jpeg")) for k in range(29)]
        r = c.post(f"/api/projects/{pid}/from-photos", files=many)  # 4 layers + 29 > 32
        assert r.status_code == 422 and "more than the limit of 28" in r.json()["error"]["message"]
        path = tmp_path / "p.lcp"
        path.write_bytes(c.get(f"/api/projects/{pid}/export").content)
    canvas = load_project(path)
    assert len(canvas.layers) == 4
    by_name = {layer.name: layer for layer in canvas.layers}
    # each face lands on its prior face, left to right (the prior is twice the canvas's size)
    targets = [f.landmarks / 2 for f in sorted(analyzer.detect(prior), key=lambda f: f.center[0])]
    for name, target in zip(["a.jpg", "g.jpg"], targets, strict=True):
        assert np.linalg.norm(landmarks_on_canvas(by_name[name]) - target, axis=1).max() < 2.0
    # the split people stand where they stood: the photo's left person on the canvas's left half
    people = [layer for layer in canvas.layers if "person" in layer.name]
    xs = sorted(landmarks_on_canvas(layer)[:, 0].mean() for layer in people)
    assert xs[0] < 128 < xs[1]


def _png_no_face() -> bytes:
    import skimage.data

    buf = io.BytesIO()
    Image.fromarray(skimage.data.coffee()).save(buf, format="PNG")
    return buf.getvalue()
