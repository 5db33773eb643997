"""A LoRA whose alpha differs from its rank must reload with the same scale (diffusers' adapter metadata)."""

import torch
from safetensors import safe_open

from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from layercraft.pipelines.lora import add_attention_lora, save_attention_lora
from layercraft.training import TrainConfig, build_task


def _out(transformer):
    g = torch.Generator().manual_seed(0)
    r, c = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    img_ids = torch.stack([torch.zeros(16), r.flatten().float(), c.flatten().float()], -1)
    with torch.no_grad():
        return transformer(hidden_states=torch.randn(1, 16, 48, generator=g),
                           encoder_hidden_states=torch.randn(1, 4, 32, generator=g),
                           pooled_projections=torch.randn(1, 32, generator=g), timestep=torch.tensor([0.6]),
                           img_ids=img_ids, txt_ids=torch.zeros(4, 3), return_dict=False)[0]


def _randomise_lora(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _saved_alpha(directory):
    with safe_open(str(directory / "pytorch_lora_weights.safetensors"), "pt") as f:
        return f.metadata()


def test_alpha_other_than_rank_survives_save_and_load(tmp_path):
    pipe = LayeredCanvasPipeline.from_spec("tiny-test")
    base = _out(pipe.transformer)
    add_attention_lora(pipe.transformer, rank=4, alpha=16)
    _randomise_lora(pipe.transformer)
    expected = _out(pipe.transformer)
    save_attention_lora(pipe, tmp_path / "lora")

    fresh = LayeredCanvasPipeline.from_spec("tiny-test")
    fresh.load_lora_weights(str(tmp_path / "lora"))
    cfg = next(iter(fresh.transformer.peft_config.values()))
    assert (cfg.r, cfg.lora_alpha) == (4, 16)
    got = _out(fresh.transformer)
    assert (expected - base).abs().max() > 1e-3  # the adapter changes the output
    assert torch.allclose(got, expected, atol=1e-6), (got - expected).abs().max()


def test_canvas_task_export_keeps_its_lora_alpha(tmp_path):
    task = build_task(TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "lora_rank": 4,
                                                            "lora_alpha": 16}))
    _randomise_lora(task.model, seed=2)
    expected = _out(task.model)
    task.export(task.model, tmp_path / "final")
    assert _saved_alpha(tmp_path / "final")  # the adapter config travels in the file's metadata
    fresh = LayeredCanvasPipeline.from_spec("tiny-test")
    fresh.load_lora_weights(str(tmp_path / "final"))
    assert torch.allclose(_out(fresh.transformer), expected, atol=1e-6)


def test_a_sharded_runs_gathered_state_dict_exports_the_same_lora(tmp_path):
    task = build_task(TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "lora_rank": 4}))
    _randomise_lora(task.model, seed=3)
    task.export(task.model, tmp_path / "own")
    full = {k: v.clone() for k, v in task.model.state_dict().items()}  # what accelerator.get_state_dict gathers
    task.export(task.model, tmp_path / "gathered", state_dict=full)
    a, b = (LayeredCanvasPipeline.from_spec("tiny-test") for _ in range(2))
    a.load_lora_weights(str(tmp_path / "own"))
    b.load_lora_weights(str(tmp_path / "gathered"))
    assert torch.equal(_out(a.transformer), _out(b.transformer))
