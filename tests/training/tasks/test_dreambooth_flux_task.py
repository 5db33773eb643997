import numpy as np
import pytest
import torch

from layercraft.canvas import Canvas
from layercraft.training import TrainConfig, train
from layercraft.training.tasks.dreambooth_flux import (
    centred_portrait,
    instance_prompt,
    world_instances,
)


def test_instance_prompt_puts_the_token_before_the_class_word():
    assert instance_prompt("one person on a beach: laughing, waving.") == "one sks person on a beach: laughing, waving."
    with pytest.raises(ValueError, match="class word"):
        instance_prompt("a dog on a beach")


def test_world_instances_are_centred_portraits_of_one_identity():
    inst = world_instances(90000003, 3, 64)
    assert len(inst) == 3 and all(p.startswith("one sks person") for _, p in inst)
    assert all(im.size == (64, 64) for im, _ in inst)


def test_centred_portrait_moves_the_subject_to_the_centre_over_the_plate():
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[2:6, 0:2] = (255, 0, 0, 255)  # a red subject at the left edge
    plate = np.full((8, 8, 3), 7, np.uint8)
    image, alpha = centred_portrait(layer, plate)
    cols = np.flatnonzero(alpha.any(0))
    assert cols.tolist() == [3, 4]  # columns 0-1 → 3-4: centred on column 4
    rgb = np.asarray(image)
    assert (rgb[2:6, 3:5] == (255, 0, 0)).all() and (rgb[:, :3] == 7).all() and (rgb[:, 5:] == 7).all()


def test_dreambooth_lora_trains_exports_and_loads(tmp_path):
    from layercraft.pipelines.retouch import LayoutRetouchFluxPipeline

    cfg = TrainConfig(task="flux_dreambooth", output_dir=tmp_path / "run",
                      max_steps=2, batch_size=2, lr=1e-2, checkpoint_every=2,
                      task_args={"model": "tiny-test", "world_scene": 90000003, "num_instance": 2, "size": 32,
                                 "lora_rank": 2})
    result = train(cfg)
    assert result.steps == 2 and all(np.isfinite(result.losses))
    lora = tmp_path / "run" / "final"
    assert (lora / "pytorch_lora_weights.safetensors").is_file() and "sks" in (lora / "README.md").read_text()
    pipe = LayoutRetouchFluxPipeline.from_spec("tiny-test")
    canvas = Canvas(width=32, height=32, prompt="one person")
    tokens = (32 // pipe.stride) ** 2
    noise = torch.randn(1, tokens, pipe.latent_channels * 4, generator=torch.Generator().manual_seed(0))
    base = pipe.step_blended("one person", "one sks person", canvas, noise, 2, 0)
    base_vanilla = pipe.step_blended("one person", "one sks person", canvas, noise, 2, 2)
    pipe.load_lora_weights(lora)
    personalized = pipe.step_blended("one person", "one sks person", canvas, noise, 2, 0)
    vanilla = pipe.step_blended("one person", "one sks person", canvas, noise, 2, 2)  # λ = all steps: LoRA off
    assert not torch.allclose(base, personalized, atol=1e-4)  # the LoRA acts on the personalized steps
    assert torch.allclose(base_vanilla, vanilla, atol=1e-5)  # and is switched off on the vanilla ones
