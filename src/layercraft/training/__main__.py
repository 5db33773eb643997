"""`python -m layercraft.training CONFIG.yaml [key=value ...]`: the entry `accelerate launch` runs.

    accelerate launch --num_processes 2 --cpu -m layercraft.training configs/x.yaml max_steps=100
"""

from __future__ import annotations

import sys

import yaml

from .config import TrainConfig
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
    train(TrainConfig.from_yaml(argv[0], **overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
