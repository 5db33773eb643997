"""The real-scale LoRA recipe's memory savers, on tiny components: the encoding cache, gradient checkpointing
under LoRA, and the optimizer option."""

import sys
import types

import pytest
import torch
from accelerate import Accelerator
from pydantic import ValidationError

from layercraft.training import TrainConfig, build_task
from layercraft.training.encoding_cache import CacheMiss, EncodingCache
from layercraft.training.optim import build_optimizer, optimizer_class

ARGS = {"model": "tiny-test", "size": 32, "recipes": {"layercomposer": 1.0, "one_for_all": 1.0}, "dataset_size": 2,
        "p_drop_canvas": 0.3, "p_drop_text": 0.3, "switches": {"ccpa": True}}


def _task(tmp_path, **kw):
    task = build_task(TrainConfig(task="canvas", output_dir=tmp_path / "run", batch_size=2,
                                  task_args={**ARGS, **kw}))
    torch.nn.init.normal_(task.model.proj_out.weight, std=0.2)  # stock init is zero: make the loss see the input
    return task


def _losses(task, steps=3):
    return [task.loss(task.model, task.batch(i, 0, 2), torch.Generator().manual_seed(i))[0] for i in range(steps)]


def test_cached_encodings_give_the_uncached_losses_and_reload_without_encoders(tmp_path, monkeypatch):
    plain = _task(tmp_path)
    cached = _task(tmp_path, cache_encodings=True)
    cached.setup(Accelerator(cpu=True))
    path = cached.cache_path()
    assert path.exists() and not list(path.parent.glob("*.tmp"))  # written by rename
    assert cached.cache.frozen and cached.cache.text and cached.cache.latents
    expected = _losses(plain)
    assert torch.allclose(torch.stack(_losses(cached)), torch.stack(expected), rtol=1e-5, atol=1e-6)

    again = _task(tmp_path, cache_encodings=True)  # a resumed run: the file is loaded, nothing is encoded

    def no_encoding(*a, **k):
        raise AssertionError("encoder ran although the cache file exists")

    monkeypatch.setattr(again.pipe, "encode_text", no_encoding)
    monkeypatch.setattr(again.pipe.vae, "encode", no_encoding)
    again.setup(Accelerator(cpu=True))
    assert torch.allclose(torch.stack(_losses(again)), torch.stack(expected), rtol=1e-5, atol=1e-6)
    with pytest.raises(CacheMiss, match="not in the precomputed"):
        again.encoders().encode_text(["a prompt no example has"], None)


def test_the_cache_file_is_keyed_by_what_is_encoded(tmp_path):
    a, b = _task(tmp_path), _task(tmp_path, size=64)
    assert a.cache_path() != b.cache_path()
    assert a.cache_path() == _task(tmp_path, p_drop_text=0.9, lora_rank=4).cache_path()  # training-only knobs
    cache = EncodingCache({"n": 1})
    cache.text["x"] = (torch.ones(2, 3), torch.zeros(3))
    cache.latents["k"] = torch.arange(4.0)
    back = EncodingCache.load(cache.save(tmp_path / "c" / "cache.pt"))
    assert back.meta == {"n": 1} and torch.equal(back.latents["k"], torch.arange(4.0))
    assert torch.equal(back.text["x"][0], torch.ones(2, 3))


def test_a_finite_set_draws_only_its_examples_and_the_cache_needs_one():
    cfg = TrainConfig(task="canvas", task_args={**ARGS, "recipes": {"layercomposer": 1.0}})
    task = build_task(cfg)
    pool = {task.example("layercomposer", k).prompt for k in range(2)}
    drawn = {e.prompt for i in range(6) for e in task.batch(i, 0, 2).examples}
    assert drawn <= pool and len(drawn) > 1
    with pytest.raises(ValidationError, match="dataset_size"):
        build_task(TrainConfig(task="canvas", task_args={**ARGS, "dataset_size": None, "cache_encodings": True}))
    with pytest.raises(ValidationError, match="curriculum"):
        build_task(TrainConfig(task="canvas", task_args={**ARGS, "recipes": {"anyphoto": 1.0}}))


def test_gradient_checkpointing_under_lora_gives_the_same_loss_and_adapter_gradients(tmp_path):
    task = _task(tmp_path, lora_rank=4, dataset_size=None)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in task.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)  # B starts at zero: give A a gradient too
    batch = task.batch(0, 0, 2)
    out = []
    for ckpt in (False, True):
        task.model.zero_grad(set_to_none=True)
        if ckpt:
            task.model.enable_gradient_checkpointing()
        loss, _ = task.loss(task.model, batch, torch.Generator().manual_seed(0))
        loss.backward()
        grads = [p.grad for p in task.trainable_parameters()]
        assert all(gr is not None for gr in grads)
        out.append((loss.detach(), torch.cat([gr.flatten() for gr in grads])))
    assert task.model.gradient_checkpointing
    assert torch.allclose(out[0][0], out[1][0], atol=1e-6)
    assert out[0][1].abs().sum() > 0 and torch.allclose(out[0][1], out[1][1], atol=1e-6)


def test_optimizer_option(monkeypatch):
    params = [torch.nn.Parameter(torch.ones(3))]
    assert type(build_optimizer("adamw", [{"params": params}], lr=1e-3, weight_decay=0.0)) is torch.optim.AdamW
    with pytest.raises(ValidationError):
        TrainConfig(task="canvas", optimizer="adam9bit")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # not importable
    with pytest.raises(ImportError, match="pip install bitsandbytes"):
        optimizer_class("paged_adamw8bit")
    fake = types.ModuleType("bitsandbytes")
    fake.optim = types.SimpleNamespace(AdamW8bit=type("AdamW8bit", (torch.optim.AdamW,), {}),
                                       PagedAdamW8bit=type("PagedAdamW8bit", (torch.optim.AdamW,), {}),
                                       PagedAdamW=type("PagedAdamW", (torch.optim.AdamW,), {}))
    monkeypatch.setitem(sys.modules, "bitsandbytes", fake)
    for name, cls in (("adamw8bit", "AdamW8bit"), ("paged_adamw8bit", "PagedAdamW8bit"), ("paged_adamw", "PagedAdamW")):
        opt = build_optimizer(name, [{"params": params}], lr=2e-4, weight_decay=0.01)
        assert type(opt).__name__ == cls and opt.defaults["lr"] == 2e-4
