"""A real, tiny flow-matching task for trainer tests: a 1+1-block Flux transformer that learns
four fixed 4×4-token "images" from their fixed "text" embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import FluxTransformer2DModel

from layercraft.training import TrainConfig
from layercraft.training.flow_matching import noisy_and_target, sample_sigmas


class TinyFlowTask:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.model = FluxTransformer2DModel(
            patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=(4, 6, 6),
        )
        g = torch.Generator().manual_seed(1234)
        self.images = torch.randn(4, 16, 4, generator=g)  # (N, L, C) packed tokens
        self.text = torch.randn(4, 3, 32, generator=g)  # (N, T, D)
        self.pooled = torch.randn(4, 32, generator=g)
        r, c = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
        self.img_ids = torch.stack([torch.zeros(16), r.flatten().float(), c.flatten().float()], -1)
        self.txt_ids = torch.zeros(3, 3)

    def trainable_parameters(self):
        return self.model.parameters()

    def batch(self, index: int, rank: int, batch_size: int):
        idx = torch.tensor([(index * batch_size + k + rank) % 4 for k in range(batch_size)])
        return idx

    def loss(self, model, idx, generator):
        x0 = self.images[idx]
        sig = sample_sigmas(self.cfg.flow, len(idx), generator)
        noise = torch.randn(x0.shape, generator=generator)
        xt, target = noisy_and_target(x0, sig, noise)
        pred = model(hidden_states=xt, encoder_hidden_states=self.text[idx], pooled_projections=self.pooled[idx],
                     timestep=sig, img_ids=self.img_ids, txt_ids=self.txt_ids, return_dict=False)[0]
        return torch.nn.functional.mse_loss(pred.float(), target.float()), {"sigma": sig.mean()}

    def sample(self, model, step: int, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"step{step}.json").write_text(json.dumps({"step": step}))

    def export(self, model, out_dir: Path) -> None:
        model.save_pretrained(out_dir)


def make(cfg: TrainConfig) -> TinyFlowTask:
    return TinyFlowTask(cfg)
