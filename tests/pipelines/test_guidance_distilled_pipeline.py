"""A pipeline whose transformer is guidance-distilled runs one pass per step, the scales as the model's input."""

import torch

from layercraft.models.transformer import LayercraftFluxTransformer
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from lc_canvases import canvas
from lc_spy import CallSpy


def _student_pipe(tmp_path):
    teacher = LayeredCanvasPipeline.from_spec("tiny-test")
    config = {k: v for k, v in teacher.transformer.config.items() if not k.startswith("_")}
    student = LayercraftFluxTransformer(**{**config, "guidance_distilled": True})
    student.load_state_dict(teacher.transformer.state_dict(), strict=False)
    with torch.no_grad():  # a "trained" embedder, so that the scales change the output
        for p in student.guidance_scale_embedder.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)) * 0.2)
    pipe = teacher.with_transformer(student)
    pipe.set_progress_bar_config(disable=True)
    return teacher, pipe


def _run(pipe, **kw):
    return pipe("a man and a woman in a park", canvas(2, locked=(0,)), num_inference_steps=3, output_type="latent",
                generator=torch.Generator().manual_seed(0), **kw).images


def test_distilled_pipeline_makes_one_call_per_step_with_both_scales(tmp_path):
    teacher, pipe = _student_pipe(tmp_path)
    assert pipe.guidance_distilled and not teacher.guidance_distilled
    with CallSpy(pipe.transformer) as spy:
        out = _run(pipe, true_cfg_scale=3.0, negative_prompt="", canvas_cfg_scale=2.0)
    assert len(spy.calls) == 3  # 3 steps × 1 pass (the teacher would make 3 steps × 2 stacked/bare calls)
    for call in spy.calls:
        assert call["guidance_scales"].tolist() == [[3.0, 2.0]]
        assert call["hidden_states"].shape[0] == 1  # no stacked negative branch
    with CallSpy(teacher.transformer) as spy:
        _run(teacher, true_cfg_scale=3.0, negative_prompt="", canvas_cfg_scale=2.0)
    assert len(spy.calls) == 6
    # the scales reach the output; without a negative prompt text CFG is off, as for an undistilled model
    assert not torch.allclose(out, _run(pipe, true_cfg_scale=1.5, negative_prompt="", canvas_cfg_scale=2.0))
    with CallSpy(pipe.transformer) as spy:
        _run(pipe, true_cfg_scale=3.0, canvas_cfg_scale=2.0)
    assert spy.calls[0]["guidance_scales"].tolist() == [[1.0, 2.0]]


def test_distilled_pipeline_saves_and_loads(tmp_path):
    _, pipe = _student_pipe(tmp_path)
    pipe.save_pretrained(tmp_path / "student")
    again = LayeredCanvasPipeline.from_pretrained(tmp_path / "student")
    assert again.guidance_distilled
    again.set_progress_bar_config(disable=True)
    kw = dict(true_cfg_scale=3.0, negative_prompt="", canvas_cfg_scale=2.0)
    torch.testing.assert_close(_run(again, **kw), _run(pipe, **kw))
