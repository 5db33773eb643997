"""Scale paths on a small set: a process pool, resumption after SIGKILL (nothing lost or doubled), and
Ray Data on a local Ray with 2 CPUs, each giving the same dataset as one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from data_photos import SMALL_OPTIONS

from layercraft.data import PreparedDataset, PrepareOptions, prepare

SRC = Path(__file__).resolve().parents[2] / "src"


def _same_dataset(a: Path, b: Path) -> None:
    da, db = PreparedDataset(a), PreparedDataset(b)
    assert da.index["counts"] == db.index["counts"] and da.index["counts"]["images"] > 0
    assert json.loads((a / "report.json").read_text())["refusals"] == \
        json.loads((b / "report.json").read_text())["refusals"]
    ka = {r["key"]: n for n, r in enumerate(da.images)}
    kb = {r["key"]: n for n, r in enumerate(db.images)}
    assert sorted(ka) == sorted(kb) and len(ka) == len(da.images)
    for key, n in ka.items():
        sa, sb = da.sample(n), db.sample(kb[key])
        assert sorted(da.images[n]["identities"]) == sorted(db.images[kb[key]]["identities"])
        assert sorted(x.tobytes() for x in sa.layers) == sorted(x.tobytes() for x in sb.layers)  # up to ordering
        assert np.array_equal(sa.rgb, sb.rgb)


def test_process_pool_of_two_workers_writes_the_same_dataset(small_dataset, tmp_path):
    photos, reference = small_dataset
    prepare([photos], tmp_path / "pool", PrepareOptions(**SMALL_OPTIONS), workers=2)
    _same_dataset(tmp_path / "pool", reference)


def test_resume_after_sigkill_loses_and_doubles_nothing(small_dataset, tmp_path):
    photos, reference = small_dataset
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "layercraft.data.cli", "prepare", str(photos), "--out", str(out),
           "--max-side", str(SMALL_OPTIONS["max_side"]), "--chunk", "1", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and not list((out / "work").glob("chunk-*.json")):
            assert proc.poll() is None, "the preparation ended before it could be killed"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "index.json").exists()  # killed mid-way
    done = len(list((out / "work").glob("chunk-*.json")))
    with pytest.raises(ValueError, match="already exists"):
        prepare([photos], out)
    prepare([photos], out, resume=True)
    plan = json.loads((out / "work" / "plan.json").read_text())
    assert len(list((out / "work").glob("chunk-*.json"))) == len(plan["items"]) > done
    assert not list(out.rglob("*.tmp"))
    _same_dataset(out, reference)


def test_ray_engine_writes_the_same_dataset(small_dataset, tmp_path):
    ray = pytest.importorskip("ray")
    photos, reference = small_dataset
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        prepare([photos], tmp_path / "ray", PrepareOptions(**SMALL_OPTIONS), engine="ray", workers=2)
    finally:
        ray.shutdown()
    _same_dataset(tmp_path / "ray", reference)
