"""The one sampling loop: hook order, per-step attention kwargs, hooks that replace latents."""

import pytest
import torch

from layercraft.denoise import Hook, denoise
from layercraft.denoise.flow import euler_step

SIGMAS = torch.tensor([1.0, 0.6, 0.25, 0.0])


class Recorder(Hook):
    def __init__(self, name, log, kwargs=None):
        self.name, self.log, self.kwargs = name, log, kwargs or {}

    def before_step(self, i, sigma, x):
        self.log.append((self.name, "before", i, float(sigma), x.clone()))
        return x + 1.0  # visible to the velocity and to the next hook

    def attention_kwargs(self, i):
        return {k: (v, i) for k, v in self.kwargs.items()}

    def after_step(self, i, sigma_next, x):
        self.log.append((self.name, "after", i, float(sigma_next), x.clone()))
        return x * 2.0


def test_hooks_run_in_order_around_the_velocity_and_the_euler_step():
    log = []

    def velocity(model, x, sigma, kwargs):
        assert not torch.is_grad_enabled()  # the loop samples without a graph
        log.append(("velocity", float(sigma), x.clone(), kwargs))
        return -0.5 * x

    x0 = torch.full((1, 2, 3), 0.5)
    ticks = []
    out = denoise("model", velocity, x0, SIGMAS, [Recorder("a", log), Recorder("b", log)],
                  progress=lambda: ticks.append(1))
    assert [e[:3] if e[0] != "velocity" else ("velocity",) for e in log] == [
        e for i in range(3) for e in [("a", "before", i), ("b", "before", i), ("velocity",), ("a", "after", i),
                                      ("b", "after", i)]]
    assert len(ticks) == 3
    # replay by hand: each hook's return value is what the next stage sees
    x = x0
    for i in range(3):
        a_before, b_before, v, a_after, b_after = log[5 * i : 5 * i + 5]
        assert a_before[3] == SIGMAS[i] and v[1] == SIGMAS[i] and a_after[3] == SIGMAS[i + 1]
        torch.testing.assert_close(a_before[4], x)
        torch.testing.assert_close(b_before[4], x + 1)
        torch.testing.assert_close(v[2], x + 2)
        stepped = euler_step(x + 2, -0.5 * (x + 2), SIGMAS[i], SIGMAS[i + 1])
        torch.testing.assert_close(a_after[4], stepped)
        torch.testing.assert_close(b_after[4], stepped * 2)
        x = stepped * 4
    torch.testing.assert_close(out, x)


def test_attention_kwargs_merge_the_call_kwargs_with_each_hook_in_order():
    seen = []

    def velocity(model, x, sigma, kwargs):
        seen.append(kwargs)
        return torch.zeros_like(x)

    hooks = [Recorder("a", [], {"swap": "a", "probe": "a"}), Recorder("b", [], {"swap": "b"})]
    base = {"scale": 0.5, "swap": "call"}
    denoise(None, velocity, torch.zeros(1, 1, 1), SIGMAS, hooks, joint_attention_kwargs=base)
    assert seen == [{"scale": 0.5, "swap": ("b", i), "probe": ("a", i)} for i in range(3)]  # later hooks win
    assert base == {"scale": 0.5, "swap": "call"}  # the caller's dict is not modified
    seen.clear()
    denoise(None, velocity, torch.zeros(1, 1, 1), SIGMAS)
    assert seen == [None] * 3  # nothing to pass: None, as the transformer's default


def test_a_hook_can_replace_the_latents():
    class Anchor(Hook):  # as lock anchoring: overwrite part of the latents after every step
        def after_step(self, i, sigma_next, x):
            x = x.clone()
            x[:, 0] = sigma_next
            return x

    seen = []

    def velocity(model, x, sigma, kwargs):
        seen.append(x[:, 0].clone())
        return torch.ones_like(x)

    out = denoise(None, velocity, torch.full((1, 2, 1), 7.0), SIGMAS, [Anchor()])
    assert [float(s) for s in seen[1:]] == pytest.approx([0.6, 0.25])  # the next step starts from the replaced latents
    assert float(out[0, 0]) == 0.0 and float(out[0, 1]) == 7.0 - 1.0  # untouched row: x + Σ Δσ·1


def test_no_steps_and_a_model_argument():
    x = torch.randn(1, 2, 3)
    assert denoise(None, lambda *a: 1 / 0, x, SIGMAS[:1]) is x  # a one-point grid: nothing to integrate
    models = []
    denoise("the model", lambda m, x, s, kw: models.append(m) or torch.zeros_like(x), x, SIGMAS)
    assert models == ["the model"] * 3  # the model is passed through, never held
