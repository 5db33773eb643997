"""The studio driving the real LayeredCanvasPipeline (tiny random components saved and loaded from disk)."""

from PIL import Image
from studio_helpers import new_project, png, studio_client, upload, wait_job

from layercraft.app.model import pipeline_loader
from layercraft.pipelines import LayeredCanvasPipeline


def test_studio_generates_with_a_saved_pipeline(tmp_path):
    LayeredCanvasPipeline.from_spec("tiny-test").save_pretrained(tmp_path / "model")
    with studio_client(tmp_path, load=pipeline_loader(tmp_path / "model", "cpu"), timeout_s=120) as c:
        pid = new_project(c, 32, 32, prompt="two friends")["id"]
        upload(c, pid, png(12, 12, (255, 0, 0, 255)))
        upload(c, pid, png(8, 16, (0, 0, 255, 255)), locked=True)
        r = c.post(f"/api/projects/{pid}/jobs", json={"settings": {"seed": 1, "steps": 2, "guidance": 1.0,
                                                                   "scheme": "layercomposer"}})
        assert r.status_code in (200, 201, 202), r.text
        job = wait_job(c, r.json()["id"], timeout=120)
        assert job["state"] == "succeeded", job
        img = Image.open(__import__("io").BytesIO(c.get(f"/api/jobs/{job['id']}/result.png").content))
        assert img.size == (32, 32)


def test_pipeline_preview_image_decodes_latents():
    pipe = LayeredCanvasPipeline.from_spec("tiny-test")
    import torch

    latents = torch.zeros(1, 64, pipe.latent_channels * 4)  # 8×8 token grid of a 32×32 image
    img = pipe.preview_image({"latents": latents})
    assert img.size == (32, 32)
    assert pipe.preview_image({}) is None
