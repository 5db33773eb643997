import torch
from PIL import Image
from typer.testing import CliRunner

from layercraft.canvas import save_project
from layercraft.pipelines.cli import app
from lc_canvases import canvas


def test_generate_writes_an_image(tmp_path):
    project = tmp_path / "p.zip"
    save_project(canvas(2), project)
    out = tmp_path / "img.png"
    result = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--steps", "1", "--out", str(out),
                                      "--scheme", "anyphoto"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (32, 32)


def test_generate_lock_blend_holds_the_locked_layer(tmp_path):
    import numpy as np

    from layercraft.canvas.raster import composite

    cv = canvas(2, locked=(0,))
    project = tmp_path / "p.zip"
    save_project(cv, project)
    outs = {}
    for blend in ("0", "1"):
        outs[blend] = tmp_path / f"img{blend}.png"
        result = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--steps", "2", "--out",
                                          str(outs[blend]), "--lock-blend", blend])
        assert result.exit_code == 0, result.output
    want = np.asarray(composite(cv), np.int16)[4:8, 4:8]  # inside the locked disc, in front of nothing
    err = {b: np.abs(np.asarray(Image.open(p), np.int16)[4:8, 4:8] - want).max() for b, p in outs.items()}
    assert err["1"] <= 1 < err["0"]
    bad = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--lock-blend", "2"])
    assert bad.exit_code != 0 and "lock-blend" in bad.output


def test_generate_fills_left_out_options_from_the_models_measured_settings(tmp_path, monkeypatch):
    from layercraft.pipelines import loading

    project = tmp_path / "p.zip"
    save_project(canvas(2, locked=(0,)), project)
    calls = []
    real = loading.load_pipeline

    def spying_load(model, **kw):
        pipe = real(model, **kw)
        original = pipe.__class__.__call__

        def call(self, *a, **kw):
            calls.append(kw)
            return original(self, *a, **kw)
        monkeypatch.setattr(pipe.__class__, "__call__", call)
        return pipe

    monkeypatch.setattr(loading, "load_pipeline", spying_load)
    monkeypatch.setattr(loading, "recommended_settings",
                        lambda m: {"num_inference_steps": 2, "canvas_cfg_scale": 2.0, "lock_blend": 0.5, "ref_grid": 4})
    out = tmp_path / "img.png"
    result = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--out", str(out), "--lock-blend", "0"])
    assert result.exit_code == 0, result.output
    got = {k: calls[0][k] for k in ("num_inference_steps", "true_cfg_scale", "canvas_cfg_scale", "lock_blend")}
    assert got == {"num_inference_steps": 2, "true_cfg_scale": 1.0, "canvas_cfg_scale": 2.0, "lock_blend": 0.0}
    assert calls[0]["ref_grid"] == 4  # the reference grid the card says the model was trained with
    assert "canvas_cfg_scale 2" in result.output


def test_generate_takes_device_and_dtype_and_refuses_bad_ones(tmp_path, monkeypatch):
    from layercraft.pipelines import loading

    project = tmp_path / "p.zip"
    save_project(canvas(2), project)
    seen = []
    real = loading.place_pipeline

    def spying_place(pipe, device, dtype, offload):
        out = real(pipe, device, dtype, offload)
        seen.append((str(out.device), out.transformer.dtype, out.text_encoder.dtype))
        return out

    monkeypatch.setattr(loading, "place_pipeline", spying_place)
    args = [str(project), "--model", "tiny-test", "--steps", "1", "--out", str(tmp_path / "a.png")]
    assert CliRunner().invoke(app, [*args, "--device", "cpu", "--dtype", "bfloat16"]).exit_code == 0
    assert seen[-1] == ("cpu", torch.bfloat16, torch.bfloat16)
    auto = CliRunner().invoke(app, args)
    assert auto.exit_code == 0, auto.output
    want = torch.bfloat16 if loading.cpu_has_native_bf16() else torch.float32
    assert seen[-1][1] == want  # the CPU here: fp32 unless it computes bf16 natively
    for bad, word in ((["--dtype", "int3"], "dtype"), (["--device", "tpu9"], "device"),
                      (["--device", "cpu", "--offload"], "accelerator")):
        r = CliRunner().invoke(app, [*args, *bad])
        assert r.exit_code == 2 and word in r.output, r.output


def test_native_bf16_is_read_from_the_cpu_flags():
    from layercraft.pipelines.loading import cpu_has_native_bf16

    assert not cpu_has_native_bf16("flags\t\t: fpu avx2 fma\n")
    assert cpu_has_native_bf16("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_native_bf16("flags : amx_bf16 amx_tile\n")
