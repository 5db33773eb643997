"""Guidance-distilled adapter folders load by name like any model: onto the teacher their card names."""

import json

import pytest
import torch
from safetensors.torch import save_file

from layercraft.models.modulation import GuidanceScaleEmbedder
from layercraft.pipelines.distilled import load_distilled_guidance
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from layercraft.pipelines.loading import load_pipeline, recommended_settings
from lc_canvases import canvas


def _adapter(tmp_path, scale=0.0):
    teacher = LayeredCanvasPipeline.from_spec("tiny-test")
    teacher.save_pretrained(tmp_path / "teacher")
    teacher = LayeredCanvasPipeline.from_pretrained(tmp_path / "teacher")  # the reference, loaded as the student's
    emb = GuidanceScaleEmbedder(teacher.transformer.inner_dim)
    with torch.no_grad():
        emb.embed.linear_2.weight.normal_(generator=torch.Generator().manual_seed(0)).mul_(scale)
    folder = tmp_path / "adapter"
    folder.mkdir()
    weights = {k: v.contiguous() for k, v in emb.state_dict().items()}
    save_file(weights, str(folder / "guidance_scale_embedder.safetensors"))
    card = {"teacher": str(tmp_path / "teacher"), "generation": {"num_inference_steps": 6, "true_cfg_scale": 3.0}}
    (folder / "distilled.json").write_text(json.dumps(card))
    return teacher, folder


def _run(pipe, **kw):
    pipe.set_progress_bar_config(disable=True)
    return pipe("two people", canvas(2), num_inference_steps=2, output_type="latent", negative_prompt="",
                generator=torch.Generator().manual_seed(0), **kw).images


def test_an_adapter_folder_loads_onto_its_teacher(tmp_path):
    teacher, folder = _adapter(tmp_path)
    student = load_pipeline(folder)
    assert student.guidance_distilled and student.transformer.guidance_scale_embedder is not None
    assert recommended_settings(folder) == {"num_inference_steps": 6, "true_cfg_scale": 3.0}
    # a zero embedder and no LoRA: the student is the teacher's unguided model at any scales
    torch.testing.assert_close(_run(student, true_cfg_scale=3.0, canvas_cfg_scale=2.0), _run(teacher), atol=0, rtol=0)


def test_the_embedder_weights_are_the_adapters(tmp_path):
    teacher, folder = _adapter(tmp_path, scale=0.5)
    student = load_pipeline(folder)
    assert not torch.allclose(_run(student, true_cfg_scale=3.0, canvas_cfg_scale=2.0), _run(teacher))
    with pytest.raises(ValueError, match="already guidance-distilled"):
        load_distilled_guidance(student, folder)


def test_a_folder_without_the_adapter_files_is_refused(tmp_path):
    pipe = LayeredCanvasPipeline.from_spec("tiny-test")
    with pytest.raises(FileNotFoundError, match="not a guidance-distilled adapter"):
        load_distilled_guidance(pipe, tmp_path)
