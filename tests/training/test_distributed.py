import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_two_process_cpu_ddp_keeps_replicas_in_sync(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"task: tiny_task:make\noutput_dir: {tmp_path / 'run'}\nmax_steps: 6\nbatch_size: 2\n"
                   "lr: 0.005\ncheckpoint_every: 3\n")
    env = dict(os.environ, PYTHONPATH=str(HERE), OMP_NUM_THREADS="1")
    launcher = Path(sys.executable).with_name("accelerate")
    res = subprocess.run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "layercraft.training", str(cfg)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rep = json.loads((tmp_path / "run" / "replicas.json").read_text())
    # each rank drew different batches (rank is folded into the data index), so equal weights after
    # 6 steps mean the gradients were all-reduced
    assert rep["processes"] == 2
    assert rep["fingerprints"][0] == rep["fingerprints"][1]
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 6
