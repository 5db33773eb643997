"""`python -m layercraft.training CONFIG.yaml [key=value ...]`: the entry `accelerate launch` runs.

    accelerate launch --multi_gpu --num_processes 2 -m layercraft.training configs/x.yaml max_steps=100

On a machine without a visible GPU the processes train on CPU (gloo); on one with GPUs, prefix
`CUDA_VISIBLE_DEVICES=` for CPU processes. `--cpu --num_processes N` is refused: accelerate starts one process
for it (see `training.launch`).
"""

from __future__ import annotations

import sys

import yaml
from pydantic import ValidationError

from .config import TrainConfig
from .launch import LaunchError
from .task import task_factory
from .trainer import train


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    overrides = {}
    for arg in argv[1:]:
        key, sep, value = arg.partition("=")
        if not sep:
            return _refuse(f"override {arg!r} must look like key=value")
        overrides[key] = yaml.safe_load(value)
    try:  # a config that cannot be read or names what does not exist: one line, before anything is set up
        cfg = TrainConfig.from_yaml(argv[0], **overrides)
        task_factory(cfg.task)
    except ValidationError as e:
        return _refuse(f"{argv[0]}: {validation_line(e)}")
    except FileNotFoundError:
        return _refuse(f"{argv[0]}: no such file")
    except (OSError, yaml.YAMLError, ValueError, ImportError, AttributeError) as e:
        return _refuse(f"{argv[0]}: {e}")
    try:
        train(cfg)
    except LaunchError as e:
        return _refuse(str(e))
    except ValidationError as e:  # the task's own arguments (task_args), checked as it is built
        return _refuse(f"{argv[0]}: task_args: {validation_line(e)}")
    return 0


def validation_line(err: ValidationError) -> str:
    """pydantic's report in one line: `field.sub: message; …`."""
    return "; ".join(f"{'.'.join(str(k) for k in e['loc']) or 'config'}: {e['msg']}" for e in err.errors())


def _refuse(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
