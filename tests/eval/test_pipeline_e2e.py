"""Two world cases end-to-end through the real LayeredCanvasPipeline (tiny random components) via the CLI."""

import json

import torch
from typer.testing import CliRunner

from layercraft.eval.cli import app
from layercraft.eval.records import load_records


def test_cli_runs_tiny_pipeline_with_reference_rows_then_resumes_and_reports(tmp_path):
    run, docs = tmp_path / "run", tmp_path / "docs"
    args = ["run", "--suite", "world-lock", "--method", "layercomposer", "--references", "--model", "tiny-test",
            "--count", "2", "--steps", "2", "--backends", "none", "--out", str(run), "--no-progress"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "generated 10 images" in r.output
    recs = {(x["method"], x["case"]): x for x in load_records(run)}
    assert {m for m, _ in recs} == {"ground_truth", "collage", "base_t2i", "kontext_collage", "layercomposer"}
    lc = recs[("layercomposer", "0000")]
    assert lc["model"] == "tiny-test" and lc["scheme"] == "layercomposer" and lc["size"] == [32, 32]
    assert 0 < lc["tokens"]["tokens"] <= lc["tokens"]["tokens_unpruned"]
    assert recs[("base_t2i", "0000")]["tokens"]["tokens"] == 0
    assert lc["cost"]["seconds"] > 0 and lc["identity"] == {"skipped": "no identity backend"}
    assert "psnr_all" in lc["lock"]  # the lock suite locks a subject and the background
    # deterministic seeds: a second model run with another variant name gives the same pixels
    r2 = CliRunner().invoke(app, [*args[:5], "--model", "tiny-test", "--count", "1", "--steps", "2",
                                  "--backends", "none", "--out", str(run), "--no-progress", "--variant", "again"])
    assert r2.exit_code == 0, r2.output
    a = (run / "images/layercomposer/lock/0000.png").read_bytes()
    assert a == (run / "images/layercomposer@again/lock/0000.png").read_bytes()
    # resume: nothing left to do
    r3 = CliRunner().invoke(app, args)
    assert "generated 0 images" in r3.output
    r4 = CliRunner().invoke(app, ["report", str(run), "--out", str(docs)])
    assert r4.exit_code == 0, r4.output
    assert "kontext_collage" in (docs / "index.html").read_text()
    assert json.loads((run / "records.jsonl").read_text().splitlines()[0])["suite"] == "lock"


def test_regulation_row_runs_the_same_model_and_canvas_with_box_regulation():
    import numpy as np

    from layercraft.eval.cases import load_cases
    from layercraft.eval.methods import get_method, make_generate
    from layercraft.pipelines.loading import load_pipeline

    pipe = load_pipeline("tiny-test")
    case = load_cases("world-2p", 1, 32)[0]
    assert "people" in case.prompt.split()
    plain = make_generate(get_method("layercomposer"), pipe, steps=2)(case)
    regulated = make_generate(get_method("layercomposer-regulation"), pipe, steps=2)(case)
    again = make_generate(get_method("layercomposer-regulation"), pipe, steps=2)(case)
    assert plain.size == regulated.size == (32, 32)
    assert np.array_equal(np.asarray(regulated), np.asarray(again))  # seeded
    assert not np.array_equal(np.asarray(plain), np.asarray(regulated))  # the latent update acted


def test_lcp_rows_load_a_saved_adapter_and_run_on_the_text_only_path(tmp_path):
    import numpy as np
    import pytest
    import torch

    from layercraft.eval.cases import load_cases
    from layercraft.eval.methods import get_method, make_generate
    from layercraft.models.flux_ext import LcpFluxAdapter
    from layercraft.pipelines.loading import load_pipeline

    pipe = load_pipeline("tiny-test")
    case = load_cases("world-2p", 1, 32)[0]
    torch.manual_seed(0)
    adapter = LcpFluxAdapter.for_transformer(pipe.transformer, image_dim=1, static_dim=16, num_queries=4,
                                             resampler_dim=16, resampler_depth=1, resampler_heads=2,
                                             grounding_dim=16, layout_hidden=16, refiner_grid=4)
    adapter.save_pretrained(tmp_path / "closed")  # as initialised: zero gates, the base model unchanged
    for g in adapter.grounding:
        g.gate.data.fill_(0.5)
    adapter.save_pretrained(tmp_path / "open")
    with pytest.raises(ValueError, match="LCP adapter"):
        make_generate(get_method("lcp"), pipe, steps=2)

    def px(method, folder=None):
        return np.asarray(make_generate(get_method(method), pipe, steps=2, lcp_adapter=folder)(case)).astype(float)

    text_only = px("base_t2i")
    closed = px("lcp-no-regulation", tmp_path / "closed")
    opened = px("lcp-no-regulation", tmp_path / "open")
    regulated = px("lcp", tmp_path / "open")
    assert np.abs(closed - text_only).max() <= 2  # text-only path: no canvas tokens, same seed and sampler
    assert np.abs(opened - closed).max() > 2  # the adapter's grounding acts
    assert np.abs(regulated - opened).max() > 2  # and regulation on top of it


def test_autoencoder_row_is_the_target_through_the_models_vae():
    import numpy as np

    from layercraft.eval.cases import load_cases
    from layercraft.eval.methods import get_method, make_generate
    from layercraft.pipelines.loading import load_pipeline

    pipe = load_pipeline("tiny-test")
    case = load_cases("world-2p", 1, 32)[0]
    row = make_generate(get_method("autoencoder"), pipe)
    # tiny-test's pixel-unshuffle "VAE" is lossless: the row gives the target back
    assert np.abs(np.asarray(row(case)).astype(int) - case.target.astype(int)).max() <= 1

    class Blur(torch.nn.Module):  # a lossy VAE: the row shows its loss
        def __init__(self, vae):
            super().__init__()
            self.vae, self.config, self.device, self.dtype = vae, vae.config, vae.device, vae.dtype

        def encode(self, x):
            return self.vae.encode(torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False))

        def decode(self, z, **kw):
            return self.vae.decode(z, **kw)

    pipe.vae = Blur(pipe.vae)
    assert np.abs(np.asarray(row(case)).astype(int) - case.target.astype(int)).max() > 8
