"""The studio's ×4 upscale action and the model's trained sizes in /api/info."""

import io

import numpy as np
from PIL import Image
from studio_helpers import error, new_project, png, studio_client, upload, wait_job

SETTINGS = {"seed": 1, "steps": 1, "guidance": 1.0, "true_cfg": 1.0, "canvas_cfg": 1.0, "lock_blend": 0.0,
            "scheme": "layercomposer"}


def test_a_result_is_upscaled_into_a_new_history_entry(tmp_path):
    with studio_client(tmp_path) as c:
        assert c.get("/api/info").json()["upscale"] == {"available": True, "models": ["photo", "anime"],
                                                       "reason": None}
        pid = new_project(c, 32, 32)["id"]
        assert error(c.post(f"/api/projects/{pid}/upscale", json={}))[:2] == (409, "no_result")
        upload(c, pid, png(16, 16, (255, 0, 0, 255)))
        job = c.post(f"/api/projects/{pid}/jobs", json={"settings": SETTINGS}).json()
        assert wait_job(c, job["id"])["state"] == "succeeded"
        r = c.post(f"/api/projects/{pid}/upscale", json={})  # the last result, anime model
        assert r.status_code == 201, r.text
        entry = r.json()
        assert (entry["width"], entry["height"]) == (128, 128) and entry["job_id"] == f"{job['id']}-x4-anime"
        big = Image.open(io.BytesIO(c.get(entry["result_url"]).content))
        small = Image.open(io.BytesIO(c.get(f"/api/jobs/{job['id']}/result.png").content)).convert("RGB")
        assert big.size == (128, 128)
        # the same picture, 4× larger: downscaled back it matches the result
        back = np.asarray(big.convert("RGB").resize((32, 32), Image.Resampling.BOX), np.float64)
        assert np.abs(back - np.asarray(small, np.float64)).mean() < 12
        history = [h["job_id"] for h in c.get(f"/api/projects/{pid}").json()["history"]]
        assert history == [job["id"], entry["job_id"]]
        assert c.post(f"/api/projects/{pid}/upscale", json={"job_id": job["id"]}).status_code == 201
        assert len(c.get(f"/api/projects/{pid}").json()["history"]) == 2  # once per result and model
        assert error(c.post(f"/api/projects/{pid}/upscale", json={"job_id": "nope"}))[:2] == (404,
                                                                                             "result_not_found")
        assert error(c.post(f"/api/projects/{pid}/upscale", json={"model": "oil"}))[:2] == (422, "unknown_upscaler")


def test_an_uploaded_image_is_upscaled_and_bad_uploads_are_refused(tmp_path):
    with studio_client(tmp_path, max_image_pixels=40 * 40) as c:
        r = c.post("/api/upscale", files={"file": ("a.png", png(12, 8), "image/png")}, data={"model": "anime"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == (48, 32)
        bad = c.post("/api/upscale", files={"file": ("a.png", b"not an image", "image/png")})
        assert error(bad)[:2] == (415, "bad_image")
        huge = c.post("/api/upscale", files={"file": ("a.png", png(50, 50), "image/png")})
        assert error(huge)[0] == 415 and "over the limit" in error(huge)[2]
    with studio_client(tmp_path / "b") as c:  # within the studio's image limit, over the upscaler's: refused at once
        huge = c.post("/api/upscale", files={"file": ("a.png", png(2100, 2100), "image/png")})
        assert error(huge)[:2] == (413, "image_too_large") and "4410000 pixels" in error(huge)[2]


def test_info_offers_the_trained_sizes_first_and_marks_the_others(tmp_path):
    with studio_client(tmp_path, trained_sizes=((128, 128),)) as c:
        sizes = c.get("/api/info").json()["sizes"]
        assert sizes[0] == {"width": 128, "height": 128, "trained": True}
        assert len(sizes) > 1 and not any(s["trained"] for s in sizes[1:])
    with studio_client(tmp_path / "b") as c:  # a model whose card lists no sizes: nothing is marked untrained
        sizes = c.get("/api/info").json()["sizes"]
        assert sizes and all(s["trained"] for s in sizes)
