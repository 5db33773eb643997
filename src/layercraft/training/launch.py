"""How training is launched on several processes, and the one launch form refused.

`accelerate launch --cpu --num_processes N` without `--mpirun_hostfile` starts a single process (accelerate's
simple launcher only spreads processes through MPI), so a run that asked for N processes would silently train
on one. Several CPU processes are started by the multi-process launcher instead; the trainer picks gloo on a
machine without a visible GPU:

    accelerate launch --multi_gpu --num_processes N -m layercraft.training CONFIG
    CUDA_VISIBLE_DEVICES= accelerate launch --multi_gpu --num_processes N -m layercraft.training CONFIG  # GPUs there
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# the world-size variables accelerate reads (torchrun, MPICH / Intel MPI, Open MPI, MVAPICH)
WORLD_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

RIGHT_FORM = "accelerate launch --multi_gpu --num_processes N -m layercraft.training CONFIG"


class LaunchError(RuntimeError):
    pass


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "y", "on")


def check_launch(environ: Mapping[str, str] | None = None) -> None:
    """Raise `LaunchError` when this process was started as one of several CPU processes that were never spawned.

    accelerate's simple launcher sets MASTER_ADDR only when more than one process was asked for, and
    ACCELERATE_USE_CPU for `--cpu`; a real multi-process launch also sets a world size.
    """
    env = os.environ if environ is None else environ
    asked_for_several = "MASTER_ADDR" in env and _flag(env.get("ACCELERATE_USE_CPU"))
    if asked_for_several and not any(v in env for v in WORLD_SIZE_VARS):
        raise LaunchError(
            "`accelerate launch --cpu --num_processes N` starts one process, not N (accelerate spreads `--cpu` "
            f"processes only through MPI, with --mpirun_hostfile). For N CPU processes run: {RIGHT_FORM} "
            "(on a machine with GPUs, prefix CUDA_VISIBLE_DEVICES= to train on its CPUs); for one process, "
            "drop --num_processes or unset MASTER_ADDR.")


def sharded(accelerator) -> bool:
    """Whether the trained weights are split across processes (FSDP, DeepSpeed ZeRO-3): then no process holds a
    replica to fingerprint, the final weights must be gathered by every process, and only the main process cannot
    run the model alone (no sample sheets)."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.deepspeed_config.get("zero_optimization", {}).get("stage", 0) == 3
    return False
