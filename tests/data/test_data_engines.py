"""Scale paths on a small set: a process pool, resumption after SIGKILL (nothing lost or doubled), and
Ray Data on a local Ray with 2 CPUs, each giving the same dataset as one process."""

from __future__ import annotations

import json
import os
import shutil
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


def _same_dataset(a: Path, b: Path, extra_refusals: dict[str, str] | None = None) -> None:
    """Datasets `a` and `b` hold the same samples; `a` refused `extra_refusals` (name → reason) besides."""
    da, db = PreparedDataset(a), PreparedDataset(b)
    ca, cb = da.index["counts"], db.index["counts"]
    assert cb["images"] > 0 and {k: v for k, v in ca.items() if k not in ("refused", "refusals", "items")} == \
        {k: v for k, v in cb.items() if k not in ("refused", "refusals", "items")}
    refused_a = {r["name"]: r["reason"] for r in json.loads((a / "report.json").read_text())["refusals"]}
    refused_b = {r["name"]: r["reason"] for r in json.loads((b / "report.json").read_text())["refusals"]}
    assert refused_a == {**refused_b, **(extra_refusals or {})}
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
    """Ray Data's file reader and actors: the same samples, and the same refusals for an empty and a junk file."""
    ray = pytest.importorskip("ray")
    photos, reference = small_dataset
    shutil.copytree(photos, tmp_path / "photos")
    (tmp_path / "photos" / "empty.jpg").write_bytes(b"")
    (tmp_path / "photos" / "junk.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        prepare([tmp_path / "photos"], tmp_path / "ray", PrepareOptions(**SMALL_OPTIONS), engine="ray", workers=2)
    finally:
        ray.shutdown()
    _same_dataset(tmp_path / "ray", reference, {"empty.jpg": "empty_file", "junk.jpg": "unreadable"})


def test_items_read_from_bytes_load_and_refuse_as_from_their_files(tmp_path, monkeypatch):
    """What the Ray engine does with the bytes `read_binary_files` gives: the same photo, frame or refusal."""
    from data_photos import build

    from layercraft.data import sources
    from layercraft.data.perceive import _classify
    from layercraft.data.sources import load_item, plan_items
    from layercraft.vision.errors import PhotoError

    root = build(tmp_path / "photos")
    items, _ = plan_items([root], every=1.0)
    monkeypatch.setattr(sources, "MAX_PHOTO_BYTES", 200_000)  # grace.jpg and larger: over the size limit by bytes
    outcomes = {}
    for item in items:
        path = sources.item_path([root], item)
        got = []
        for data in (None, path.read_bytes()):
            try:
                got.append(np.asarray(load_item([root], item, data)).tobytes())
            except PhotoError as err:
                got.append(_classify(path, err))
        if data is not None and len(data) > 200_000 and item.time is None:
            assert got[1] == "too_large"
        else:
            assert got[0] == got[1], item.name
        outcomes[item.name] = got[1]
    assert outcomes["bad/empty.jpg"] == "empty_file" and outcomes["bad/junk.jpg"] == "unreadable"
    assert outcomes["bad/huge.png"] == "too_large" and len(outcomes["clips/walk.mp4"]) > 1000
