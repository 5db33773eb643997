"""Train the attribute classifier on train-split world scenes: background kind and time of day from
the whole image, expression / arm pose / facing from crops of clearly visible people.

    PYTHONPATH=src .venv/bin/python scripts/world_train_attributes.py
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from layercraft.devices import cpu_has_native_bf16
from layercraft.world.perception.attributes import CROP_HEADS, NAME, SCENE_HEADS, AttributeClassifier
from layercraft.world.perception.augment import jitter
from layercraft.world.perception.evaluate import attribute_accuracy
from layercraft.world.perception.scene_data import cached_scenes
from layercraft.world.perception.training import Clock, add_common_args, cosine_lr, save_trained, setup


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=12000, help="128×128 train scenes")
    ap.add_argument("--images256", type=int, default=3000, help="extra 256×256 train scenes (sharper faces)")
    add_common_args(ap, steps=2000, batch=64, lr=3e-3)
    args = ap.parse_args()
    setup(args.seed, args.threads)
    clock = Clock()
    model = AttributeClassifier()
    parts = [cached_scenes("train", args.images)]
    if args.images256:
        parts.append(cached_scenes("train", args.images256, first=args.images, size=256))
    val = cached_scenes("val", 300)
    scene_x = torch.cat([model.scene_input(p["rgb"]) for p in parts])  # (B, 3, 64, 64) float, resized once
    train = {k: torch.cat([p[k] for p in parts]) for k in ("kind", "time", "crops", "faces", *CROP_HEADS)}
    print(f"{len(scene_x)} train images, {len(train['crops'])} clear people; {clock():.0f}s", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    g = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr)
        i = torch.randint(0, len(scene_x), (args.batch,), generator=g)
        j = torch.randint(0, len(train["crops"]), (args.batch,), generator=g)
        xs = jitter(scene_x[i], g, shift=0.03, scale=0.05, degrees=0.0)
        flip = torch.rand(args.batch, generator=g) < 0.5  # mirrored scenes keep kind and time
        xs = torch.where(flip[:, None, None, None], xs.flip(3), xs)
        xp = jitter(train["crops"][j].float() / 255, g)  # no flips: facing left/right is a label
        xf = jitter(train["faces"][j].float() / 255, g, shift=0.08, scale=0.1)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16()):  # fp32 where bf16 is emulated
            logits = {**model.scene_logits(xs), **model.person_logits(xp), **model.face_logits(xf)}
        loss = sum(F.cross_entropy(logits[k].float(), train[k][i]) for k in SCENE_HEADS)
        loss = loss + sum(F.cross_entropy(logits[k].float(), train[k][j], label_smoothing=0.05) for k in CROP_HEADS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == args.steps - 1:
            rep = attribute_accuracy(model, val)
            print(f"step {step} loss {loss.item():.3f} val {rep['accuracy']} t {clock():.0f}s", flush=True)
    save_trained(model, NAME, "scene: whole image resized to 64×64; person: crops.crop (3, 64, 48), margin 1.1; "
                 "face: crops.crop (3, 32, 32) of the face box, margin 1.3", {**vars(args), "val": rep}, clock)

if __name__ == "__main__":
    main()
