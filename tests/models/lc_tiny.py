"""Tiny transformer configs and inputs shared by the model tests (imported by name: tests/models is on sys.path)."""

import torch

TINY = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=24, axes_dims_rope=(4, 6, 6))


def make_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    b, n_noisy, t = 2, 16, 5
    rc = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij"), -1).reshape(-1, 2)
    return dict(
        noisy=torch.randn(b, n_noisy, 16, generator=g),  # (B, L, C)
        noisy_ids=torch.cat([torch.zeros(n_noisy, 1), rc], 1),  # (L, 3)
        text=torch.randn(b, t, 32, generator=g),  # (B, T, joint_attention_dim)
        pooled=torch.randn(b, 24, generator=g),
        timestep=torch.tensor([0.3, 0.7]),
        txt_ids=torch.zeros(t, 3),
    )
