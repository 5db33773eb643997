import torch

from layercraft.denoise.flow import flow_invert


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
    import pytest

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
