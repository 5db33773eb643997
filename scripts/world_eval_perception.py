"""Re-measure all perception figures from the committed weights on held-out test-split renders.

PYTHONPATH=src .venv/bin/python scripts/world_eval_perception.py --out docs/world/perception.json
(same as: .venv/bin/layercraft world perception-report)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from layercraft.world.perception.report import perception_report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000, help="held-out test scenes (128×128)")
    ap.add_argument("--ids", type=int, default=400, help="held-out identities for verification")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rep = perception_report(args.images, args.ids)
    text = json.dumps(rep, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
