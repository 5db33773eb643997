"""Train the person/face detector (tiny CenterNet, 128×128) on train-split world scenes.

PYTHONPATH=src .venv/bin/python scripts/world_train_detector.py
"""

from __future__ import annotations

import argparse

import torch

from layercraft.devices import cpu_has_native_bf16
from layercraft.world.perception.centernet import focal_loss, reg_loss, stack_targets, targets
from layercraft.world.perception.detector import LABELS, NAME, Detector
from layercraft.world.perception.evaluate import detection_ap
from layercraft.world.perception.scene_data import cached_scenes
from layercraft.world.perception.training import Clock, add_common_args, cosine_lr, save_trained, setup


def batch_targets(rec: dict, idx: torch.Tensor, flip: torch.Tensor, size: int) -> dict:
    """Targets for images `idx` (B,), horizontally flipped where `flip` (B,) is True."""
    items = []
    for i, f in zip(idx.tolist(), flip.tolist(), strict=True):
        m = rec["box_image"] == i
        boxes = rec["boxes"][m].clone()
        if f:
            boxes[:, [0, 2]] = size - boxes[:, [2, 0]]
        items.append(targets(boxes, rec["box_label"][m], rec["box_counts"][m], len(LABELS), (size // 4, size // 4)))
    return stack_targets(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=12000)
    add_common_args(ap, steps=1400, batch=32, lr=4e-3)
    args = ap.parse_args()
    setup(args.seed, args.threads)
    clock = Clock()
    train = cached_scenes("train", args.images)
    val = cached_scenes("val", 300)
    print(f"rendered {len(train['rgb'])} train / {len(val['rgb'])} val images in {clock():.0f}s", flush=True)

    model = Detector().to(memory_format=torch.channels_last)
    size = model.size
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr)
        idx = torch.randint(0, len(train["rgb"]), (args.batch,), generator=g)
        flip = torch.rand(args.batch, generator=g) < 0.5
        x = train["rgb"][idx].float() / 255  # (B, 3, S, S)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x = (x * (0.85 + 0.3 * torch.rand(args.batch, 1, 1, 1, generator=g))).clamp(0, 1)
        t = batch_targets(train, idx, flip, size)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16()):  # fp32 where bf16 is emulated
            heat, box_size, offset = model(x.contiguous(memory_format=torch.channels_last))
        loss = focal_loss(heat, t["heat"], t["weight"]) + 0.5 * reg_loss(box_size, t["size"], t["reg"])
        loss = loss + reg_loss(offset, t["offset"], t["reg"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 350 == 0 or step == args.steps - 1:
            rep = detection_ap(model, val)
            print(f"step {step} loss {loss.item():.3f} val {rep['ap50']} t {clock():.0f}s", flush=True)
    save_trained(model, NAME, "whole image (3, 128, 128) float in [0, 1]; other sizes are resized to 128×128",
                 {**vars(args), "val": rep}, clock)

if __name__ == "__main__":
    main()
