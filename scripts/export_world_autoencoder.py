"""Copy a trained world autoencoder (`layercraft train configs/world-autoencoder.yaml` → RUN/final) into the
package's `assets/models/world-autoencoder/`, in a smaller dtype, with its card.

    python scripts/export_world_autoencoder.py out/world-autoencoder [--dtype float16]

The card (`model.json`) records the training run (steps, config) and the held-out PSNR/SSIM before and after the
dtype change, so a lossy export shows. The folder is written beside the target, then renamed over it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
import yaml
from diffusers import AutoencoderKL

from layercraft.models.autoencoder import world_autoencoder_dir
from layercraft.training import TrainConfig
from layercraft.training.tasks.autoencoder import AutoencoderTask, reconstruction_metrics


def stages(cfg: TrainConfig) -> list[dict]:
    """The chain of runs behind this one (oldest first): each run's output folder, steps and task arguments, followed
    through `task_args.init_from` (a run's `final/` folder beside its `config.yaml`, or an exported autoencoder whose
    `model.json` lists the stages behind it)."""
    chain, earlier = [cfg], []
    while init := chain[-1].task_args.get("init_from"):
        init = Path(init)
        if (init.parent / "config.yaml").is_file():
            chain.append(TrainConfig(**yaml.safe_load((init.parent / "config.yaml").read_text())))
        elif (init / "model.json").is_file():
            earlier = json.loads((init / "model.json").read_text()).get("stages", [])
            break
        else:
            break
    return earlier + [{"output_dir": str(c.output_dir), "steps": c.max_steps, "task_args": c.task_args}
                      for c in chain[::-1]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--dtype", default="float16", choices=["float32", "float16", "bfloat16"])
    a = ap.parse_args()
    cfg = TrainConfig(**yaml.safe_load((a.run / "config.yaml").read_text()))
    val = AutoencoderTask(cfg).validation()
    full = AutoencoderKL.from_pretrained(a.run / "final", torch_dtype=torch.float32).eval()
    small = AutoencoderKL.from_pretrained(a.run / "final", torch_dtype=getattr(torch, a.dtype)).eval()
    target = world_autoencoder_dir()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    small.save_pretrained(tmp)
    log = [json.loads(line) for line in (a.run / "log.jsonl").read_text().splitlines() if line.strip()]
    card = {"architecture": "AutoencoderKL (layercraft WORLD_AUTOENCODER)", "dtype": a.dtype,
            "parameters": sum(p.numel() for p in full.parameters()), "steps": cfg.max_steps,
            "final_loss_mean_last_50": sum(r["loss"] for r in log[-50:]) / max(1, len(log[-50:])),
            "validation": {"float32": reconstruction_metrics(full, val),
                           a.dtype: reconstruction_metrics(small.float(), val), "images": len(val)},
            "config": cfg.to_yaml(), "stages": stages(cfg),
            "licence": "same as layercraft (trained here on the procedural studio world)"}
    (tmp / "model.json").write_text(json.dumps(card, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    print(json.dumps(card["validation"], indent=1))


if __name__ == "__main__":
    main()
