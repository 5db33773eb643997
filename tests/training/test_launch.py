"""`accelerate launch --cpu --num_processes N` starts one process: the trainer refuses it and names the right form."""

import pytest
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils.launch import prepare_simple_launcher_cmd_env

from layercraft.training.__main__ import main
from layercraft.training.launch import RIGHT_FORM, LaunchError, check_launch


def _simple_launch_env(*flags: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment accelerate's own launcher gives the training process for these flags."""
    args = launch_command_parser().parse_args([*flags, "--mixed_precision", "no", "--dynamo_backend", "no",
                                               "-m", "layercraft.training", "cfg.yaml"])
    args, _, _ = _validate_launch_command(args)
    return prepare_simple_launcher_cmd_env(args)


def test_the_cpu_num_processes_form_runs_one_process_and_is_refused(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    cmd, env = _simple_launch_env("--cpu", "--num_processes", "2")
    assert "torch.distributed.run" not in " ".join(cmd) and "mpirun" not in cmd[0]  # one plain python process
    with pytest.raises(LaunchError, match="--multi_gpu --num_processes N"):
        check_launch(env)


def test_single_process_and_real_multi_process_launches_pass(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    _, env = _simple_launch_env("--cpu", "--num_processes", "1")
    check_launch(env)  # one CPU process, as asked
    _, env = _simple_launch_env("--cpu", "--num_processes", "2")
    check_launch({**env, "WORLD_SIZE": "2", "RANK": "0"})  # spawned by torchrun / MPI: a world size is set
    check_launch({})


def test_the_entry_point_exits_2_with_the_right_form_before_any_training(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"task: canvas\noutput_dir: {tmp_path / 'run'}\n")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    for var in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert main([str(cfg)]) == 2
    assert RIGHT_FORM in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_sharded_means_fsdp_or_zero3():
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    from layercraft.training.launch import sharded

    def acc(kind, stage=None):
        return SimpleNamespace(distributed_type=kind, deepspeed_config={"zero_optimization": {"stage": stage}})

    assert sharded(acc(DistributedType.FSDP)) and sharded(acc(DistributedType.DEEPSPEED, 3))
    assert not sharded(acc(DistributedType.DEEPSPEED, 2)) and not sharded(acc(DistributedType.MULTI_GPU))
    assert not sharded(acc(DistributedType.NO))


def test_accelerate_configs_and_the_kontext_recipe_load():
    from pathlib import Path

    from accelerate.commands.config.config_args import ClusterConfig

    from layercraft.training import TrainConfig
    from layercraft.training.tasks.canvas import CanvasTaskArgs

    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted((root / "accelerate").glob("*.yaml"))
    kinds = {p.stem: ClusterConfig.from_yaml_file(str(p)).distributed_type for p in files}
    assert {k: str(v).split(".")[-1] for k, v in kinds.items()} == {
        "fsdp": "FSDP", "deepspeed-zero2": "DEEPSPEED", "deepspeed-zero3": "DEEPSPEED"}
    cfg = TrainConfig.from_yaml(root / "kontext-lora.yaml")
    args = CanvasTaskArgs(**cfg.task_args)
    assert cfg.gradient_checkpointing and cfg.mixed_precision == "bf16" and args.cache_encodings and args.lora_rank


def test_mixed_precision_no_survives_yaml(tmp_path):
    from layercraft.training import TrainConfig

    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: canvas\nmixed_precision: no\n")  # YAML 1.1 reads a bare `no` as false
    assert TrainConfig.from_yaml(cfg).mixed_precision == "no"
    assert TrainConfig.from_yaml(cfg, mixed_precision="bf16").mixed_precision == "bf16"
