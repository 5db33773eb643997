import torch

from experiments.token_transplant import least_squares, transplant


def test_least_squares_recovers_a_linear_map_with_bias():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g)
    M, m = torch.randn(4, 6, generator=g), torch.randn(4, generator=g)
    got_M, got_m, r2 = least_squares(x, x @ M.T + m, ridge=0.0)
    assert torch.allclose(got_M, M, atol=1e-4) and torch.allclose(got_m, m, atol=1e-4) and r2 > 0.9999


def test_transplanted_projections_are_the_source_seen_through_the_maps():
    g = torch.Generator().manual_seed(1)
    src = {"x_embedder.weight": torch.randn(8, 5, generator=g), "x_embedder.bias": torch.randn(8, generator=g),
           "proj_out.weight": torch.randn(5, 8, generator=g), "proj_out.bias": torch.randn(5, generator=g),
           "blocks.0.weight": torch.randn(3, generator=g)}
    A, a = torch.randn(5, 3, generator=g), torch.randn(5, generator=g)  # new token (3) → source token (5)
    B, b = torch.randn(3, 5, generator=g), torch.randn(3, generator=g)  # source token → new token
    out = transplant(src, A, a, B, b)
    t, h = torch.randn(7, 3, generator=g), torch.randn(7, 8, generator=g)
    embed = lambda w, c, x: x @ w.T + c  # noqa: E731
    assert torch.allclose(embed(out["x_embedder.weight"], out["x_embedder.bias"], t),
                          embed(src["x_embedder.weight"], src["x_embedder.bias"], t @ A.T + a), atol=1e-5)
    assert torch.allclose(embed(out["proj_out.weight"], out["proj_out.bias"], h),
                          embed(src["proj_out.weight"], src["proj_out.bias"], h) @ B.T + b, atol=1e-5)
    assert torch.equal(out["blocks.0.weight"], src["blocks.0.weight"])
