"""The README's multi-process command on the canvas task, with the embedded-small config's module layout.

`configs/embedded-small.yaml` as shipped, shrunk to seconds: the `tiny-test` registry model has the same optional
modules (an identity projector and DAM temperature generators, both switched off by the config), so DDP sees
parameters that no step uses unless the task keeps them out of training. Two gloo processes must finish, end
with identical replicas, and log the learning-rate curve a single process logs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from layercraft.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
SHRINK = {"max_steps": 4, "batch_size": 1, "mixed_precision": "no", "sample_every": 0, "checkpoint_every": 4,
          "warmup_steps": 2, "lr_schedule": "linear"}


def small_config(tmp_path: Path, name: str) -> Path:
    cfg = yaml.safe_load((ROOT / "configs" / "embedded-small.yaml").read_text())
    assert cfg["task"] == "canvas" and not cfg["task_args"].get("switches")  # modulation and DAM off, as shipped
    cfg["task_args"].update(model="tiny-test", size=32)
    cfg.update(SHRINK, output_dir=str(tmp_path / name))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def launch(config: Path, *launch_args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests" / "training")]),
               OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    env.pop("MASTER_ADDR", None)
    launcher = Path(sys.executable).with_name("accelerate")
    return subprocess.run([str(launcher), "launch", *launch_args, "--num_machines", "1", "--mixed_precision", "no",
                           "--dynamo_backend", "no", "-m", "layercraft.training", str(config)],
                          env=env, capture_output=True, text=True, timeout=300)


def log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp_canvas")
    two = launch(small_config(tmp, "two"), "--multi_gpu", "--num_processes", "2")
    one = TrainConfig.from_yaml(small_config(tmp, "one"))
    train(one)
    return tmp, two


def test_two_processes_train_the_embedded_small_layout_with_identical_replicas(runs):
    tmp, two = runs
    assert two.returncode == 0, two.stderr[-3000:]
    rep = json.loads((tmp / "two" / "replicas.json").read_text())
    assert rep["processes"] == 2
    assert rep["fingerprints"][0] == rep["fingerprints"][1]
    steps = log(tmp / "two")
    assert [r["step"] for r in steps] == [1, 2, 3, 4]


def test_two_processes_follow_the_single_process_learning_rate_curve(runs):
    tmp, two = runs
    assert two.returncode == 0, two.stderr[-3000:]
    lr_one = [r["lr"] for r in log(tmp / "one")]
    lr_two = [r["lr"] for r in log(tmp / "two")]
    assert len(lr_one) == 4 and len(set(lr_one)) > 1  # warmup then decay: a curve, not a constant
    assert lr_two == pytest.approx(lr_one, rel=1e-12, abs=0)
