"""`python -m layercraft.training CONFIG.yaml [key=value ...]`: the entry `accelerate launch` runs.

    accelerate launch --multi_gpu --num_processes 2 -m layercraft.training configs/x.yaml max_steps=100

On a machine without a visible GPU the processes train on CPU (gloo); on one with GPUs, prefix
`CUDA_VISIBLE_DEVICES=` for CPU processes. `--cpu --num_processes N` is refused: accelerate starts one process
for it (see `training.launch`).
"""

from __future__ import annotations

import sys

import yaml

from .config import TrainConfig
from .launch import LaunchError
from .trainer import train


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    overrides = {}
    for arg in argv[1:]:
        key, sep, value = arg.partition("=")
        if not sep:
            print(f"override {arg!r} must look like key=value", file=sys.stderr)
            return 2
        overrides[key] = yaml.safe_load(value)
    try:
        train(TrainConfig.from_yaml(argv[0], **overrides))
    except LaunchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
