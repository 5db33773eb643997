"""Train the world's identity encoder (person crop → unit-norm 128-d) with an ArcFace loss.

Train-split identities only, each rendered in `--rounds` varied images (expression, pose, facing,
light, scale, background, company); model selection on val-split identities; the held-out test
split is measured by scripts/world_eval_perception.py.

    PYTHONPATH=src .venv/bin/python scripts/world_train_identity.py
"""

from __future__ import annotations

import argparse

import torch

from layercraft.devices import cpu_has_native_bf16
from layercraft.world.perception.arcface import ArcMarginHead
from layercraft.world.perception.augment import jitter
from layercraft.world.perception.identity import NAME, IdentityEncoder
from layercraft.world.perception.identity_data import identity_crops
from layercraft.world.perception.training import Clock, add_common_args, cached, cosine_lr, save_trained, setup
from layercraft.world.perception.verification import verification_report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=6)
    add_common_args(ap, steps=1000, batch=128, lr=3e-3)
    args = ap.parse_args()
    setup(args.seed, args.threads)
    clock = Clock()

    def render(split: str, ids: int, rounds: int, seed: int):
        def make() -> dict:
            x, y = identity_crops(split, ids, rounds, seed)
            return {"x": x, "y": y}

        return cached("identity", {"split": split, "ids": ids, "rounds": rounds, "seed": seed}, make)

    train = render("train", args.ids, args.rounds, args.seed)
    val = render("val", 300, 4, args.seed)
    classes, y = torch.unique(train["y"], return_inverse=True)  # identity id → class index
    x = train["x"]  # (M, 3, 64, 48) uint8
    print(f"rendered {len(x)} train crops of {len(classes)} identities, {len(val['y'])} val crops in {clock():.0f}s")

    model = IdentityEncoder().to(memory_format=torch.channels_last)
    head = ArcMarginHead(model.config["dim"], len(classes))
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    g = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, args.steps, args.lr)
        idx = torch.randint(0, len(x), (args.batch,), generator=g)
        xb = jitter(x[idx].float() / 255, g).contiguous(memory_format=torch.channels_last)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16()):  # fp32 where bf16 is emulated
            emb = model(xb)
        loss = head(emb.float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == args.steps - 1:
            rep = verification_report(model.embed(val["x"]), val["y"])
            print(
                f"step {step} loss {loss.item():.3f} val auc {rep['roc_auc']:.4f} "
                f"tar@1e-3 {rep['tar_at_far_1e-3']:.3f} cos same {rep['mean_cos_same']:.3f} "
                f"diff {rep['mean_cos_different']:.3f} t {clock():.0f}s",
                flush=True,
            )
    save_trained(model, NAME, "person crop (3, 64, 48) float in [0, 1], "
                 "layercraft.world.perception.crops.crop(margin=1.1)",
                 {**vars(args), "crops": len(x), "identities": len(classes), "val": rep}, clock)

if __name__ == "__main__":
    main()
