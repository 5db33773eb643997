"""The flow path: x_σ, the velocity target, x̂₀, FLUX's σ grid, the Euler step, inversion."""

import math

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from layercraft.denoise import denoise
from layercraft.denoise.flow import (
    clean_estimate,
    euler_step,
    fixed_point,
    flow_invert,
    flux_sigmas,
    noisy,
    velocity_from_clean,
    velocity_target,
)


def _pair(b=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, 16, 8, generator=g), torch.randn(b, 16, 8, generator=g)


def test_noisy_sample_is_the_per_sample_interpolation_between_data_and_noise():
    x0, eps = _pair()
    s = torch.tensor([0.0, 0.25, 1.0])
    xt = noisy(x0, s, eps)
    torch.testing.assert_close(xt[0], x0[0])  # σ = 0: data
    torch.testing.assert_close(xt[1], 0.75 * x0[1] + 0.25 * eps[1])  # each sample its own σ
    torch.testing.assert_close(xt[2], eps[2])  # σ = 1: noise
    torch.testing.assert_close(velocity_target(x0, eps), eps - x0)  # v = dx_σ/dσ
    h = 1e-3  # the target is the path's derivative: a finite difference along σ
    torch.testing.assert_close((noisy(x0, s + h, eps) - xt) / h, velocity_target(x0, eps), atol=1e-3, rtol=1e-3)


def test_clean_estimate_inverts_the_path_given_the_true_velocity():
    x0, eps = _pair()
    s = torch.tensor([0.1, 0.5, 0.9])
    xt, v = noisy(x0, s, eps), velocity_target(x0, eps)
    torch.testing.assert_close(clean_estimate(xt, s, v), x0, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(velocity_from_clean(xt, s, x0), v, atol=1e-5, rtol=1e-5)
    # a wrong velocity gives a wrong clean estimate, off by σ·(error)
    torch.testing.assert_close(clean_estimate(xt, s, v + 1), x0 - s.view(-1, 1, 1), atol=1e-6, rtol=1e-5)


def _scheduler():
    return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_image_seq_len=256, max_image_seq_len=4096,
                                           base_shift=0.5, max_shift=1.15)


@pytest.mark.parametrize("n_noisy", [64, 256, 4096])
def test_flux_sigmas_run_from_one_to_zero_on_the_resolution_shifted_grid(n_noisy):
    steps = 8
    s = flux_sigmas(_scheduler(), steps, n_noisy)
    assert s.shape == (steps + 1,) and s.dtype == torch.float32
    assert s[0] == pytest.approx(1.0) and s[-1] == 0.0
    assert (s[1:] < s[:-1]).all()  # strictly descending
    # FLUX's shift: σ' = e^μ / (e^μ + 1/σ − 1), μ linear in the token count between (256, 0.5) and (4096, 1.15)
    mu = 0.5 + (n_noisy - 256) * (1.15 - 0.5) / (4096 - 256)
    lin = torch.linspace(1.0, 1 / steps, steps, dtype=torch.float64)
    expected = math.exp(mu) / (math.exp(mu) + 1 / lin - 1)
    torch.testing.assert_close(s[:-1].double(), expected, atol=1e-5, rtol=1e-5)


def test_flux_sigmas_shift_larger_images_towards_noise():
    small, large = flux_sigmas(_scheduler(), 8, 64), flux_sigmas(_scheduler(), 8, 4096)
    assert (large[1:-1] > small[1:-1]).all()


def test_euler_on_a_straight_path_lands_on_the_data_exactly_on_any_grid():
    """dx/dσ = ε − x₀ is constant along the rectified path, so Euler is exact, whatever the steps."""
    x0, eps = _pair()
    v = velocity_target(x0, eps)
    for grid in (torch.tensor([1.0, 0.0]), flux_sigmas(_scheduler(), 7, 64), torch.tensor([1.0, 0.9, 0.3, 0.0])):
        x = eps
        for a, b in zip(grid[:-1], grid[1:], strict=True):
            x = euler_step(x, v, a, b)
        torch.testing.assert_close(x, x0, atol=1e-5, rtol=1e-5)
    # on a linear field v(x) = −x (x(σ) = x(1)·e^{1−σ}), Euler's product of (1 − Δσ) factors is the exact discrete
    # solution and converges to e^{1} as the grid refines
    x1 = torch.ones(1, 1, 1)
    coarse, fine = (denoise(None, lambda m, x, s, kw: -x, x1, torch.linspace(1, 0, n + 1)) for n in (4, 400))
    torch.testing.assert_close(coarse, x1 * (1 + 0.25) ** 4)
    assert abs(float(fine) - math.e) < 0.01


def test_euler_step_computes_in_float32_and_keeps_the_dtype():
    x = torch.full((1, 4, 4), 1.0, dtype=torch.bfloat16)
    v = torch.full((1, 4, 4), 1e-3, dtype=torch.bfloat16)
    out = euler_step(x, v, 1.0, 0.0)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, (x.float() - v.float()).to(torch.bfloat16))


def test_fixed_point_without_iterations_is_the_identity_and_converges_on_a_contraction():
    x = torch.randn(2, 3, 4)
    assert fixed_point(lambda z: z * 0.5 + 1, x, 0) is x
    torch.testing.assert_close(fixed_point(lambda z: z * 0.5 + 1, x, 40), torch.full_like(x, 2.0))
    with pytest.raises(ValueError, match="refine"):
        fixed_point(lambda z: z, x, -1)



def test_flow_inversion_then_euler_sampling_reproduces_the_latent():
    """On a rectified flow with a known straight path (v = noise − x0 everywhere), inverting x0 lands on the noise
    and the sampler's Euler steps come back exactly; on a smooth state-dependent field the error is small."""
    torch.manual_seed(0)
    x0, noise = torch.randn(2, 16, 8), torch.randn(2, 16, 8)
    sigmas = torch.linspace(1.0, 0.1, 10)

    def straight(x, s):
        return noise - x0

    path = flow_invert(straight, x0, sigmas)
    torch.testing.assert_close(path[-1], x0 + (noise - x0) * 1.0)

    a = torch.randn(8, 8) * 0.05

    def smooth(x, s):
        return x @ a + s * 0.1

    z = flow_invert(smooth, x0, sigmas)[-1]
    grid = torch.cat([sigmas, torch.zeros(1)])
    x = z
    for s0, s1 in zip(grid[:-1], grid[1:], strict=True):
        x = x + (s1 - s0) * smooth(x, s0)
    assert (x - x0).abs().mean() < 0.02 * x0.abs().mean()
    assert (z - x0).abs().mean() > 0.05


def _sample(field, z, sigmas):
    grid = torch.cat([sigmas, torch.zeros(1)])
    for s0, s1 in zip(grid[:-1], grid[1:], strict=True):
        z = z + (s1 - s0) * field(z, s0)
    return z


def test_fixed_point_refinement_makes_the_sampler_retrace_the_inversion():
    """A nonlinear, σ-dependent field: the plain inversion's retrace error is visible; refined steps remove it
    (each iteration shrinks it), and refine = 0 is the plain inversion."""
    torch.manual_seed(0)
    x0 = torch.randn(2, 16, 8)
    a = torch.randn(8, 8) * 0.3

    def field(x, s):
        return torch.tanh(x @ a) * (1 + 2 * s) - x * 0.5

    sigmas = torch.linspace(1.0, 0.05, 12)
    errors = [float((_sample(field, flow_invert(field, x0, sigmas, refine=k)[-1], sigmas) - x0).abs().mean())
              for k in (0, 1, 3)]
    assert errors[0] > 0.02, errors
    assert errors[1] < errors[0] / 2 and errors[2] < errors[1] / 2, errors
    assert errors[2] < 1e-3, errors
    torch.testing.assert_close(flow_invert(field, x0, sigmas, refine=0)[-1], flow_invert(field, x0, sigmas)[-1])


def test_refine_must_not_be_negative():
    with pytest.raises(ValueError, match="refine"):
        flow_invert(lambda x, s: x, torch.zeros(1, 2, 2), torch.linspace(1, 0.1, 3), refine=-1)


def test_where_the_fixed_point_iteration_diverges_each_sample_keeps_its_best_iterate():
    """A stiff field on a 3-step grid: unguarded iterations would blow up (the step times the field's Lipschitz
    constant is > 1); the guarded ones stop, so refining never ends far worse than the plain inversion."""
    torch.manual_seed(0)
    x0 = torch.randn(3, 16, 8)
    a = torch.linalg.qr(torch.randn(8, 8))[0] * 5  # Lipschitz 5 over steps of 1/3: the iteration map's gain > 1

    def field(x, s):
        return x @ a

    sigmas = torch.linspace(1.0, 0.34, 3)

    def raw(z, k):  # the same iteration without the guard
        grid, prev = sigmas.flip(0), torch.zeros(())
        for s in grid:
            nxt = z + (s - prev) * field(z, prev)
            for _ in range(k):
                nxt = z + (s - prev) * field(nxt, s)
            z, prev = nxt, s
        return z

    err = {k: float((_sample(field, flow_invert(field, x0, sigmas, refine=k)[-1], sigmas) - x0).abs().mean())
           for k in (0, 6)}
    unguarded = float((_sample(field, raw(x0, 6), sigmas) - x0).abs().mean())
    assert unguarded > 1.5 * err[0], (unguarded, err)  # the iteration really diverges here
    assert err[6] < 1.2 * err[0], err
