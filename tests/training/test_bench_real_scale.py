"""scripts/bench_real_scale.py: refuses real shapes without an accelerator; its code runs on toy shapes; the
memory estimate counts FLUX.1 Kontext's parameters from its config."""

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_real_scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_real_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refuses_on_cpu_with_one_line_and_exit_2():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(SCRIPT.parents[1] / "src"))
    res = subprocess.run([sys.executable, str(SCRIPT), "--layers", "1"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("bench_real_scale:")]
    assert len(lines) == 1 and "no CUDA accelerator" in lines[0] and res.stdout == ""


def test_every_setup_runs_on_toy_shapes(bench):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy matrices: thread hand-off would dominate on a shared CPU
    try:
        rows = bench.run([1, 4], 128, 1, "tiny", torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    by = {(r["mode"], r["layers"]): r for r in rows}
    assert set(by) == {(m, n) for n in (1, 4) for m in ("naive", "pruned", "pruned+cache")} | {("t2i", 0)}
    for n in (1, 4):
        assert by[("naive", n)]["cond_tokens"] > by[("pruned", n)]["cond_tokens"] > 0
        assert by[("pruned+cache", n)]["cond_tokens"] == by[("pruned", n)]["cond_tokens"]
        assert "lora_train" not in by[("pruned+cache", n)]  # the cache is inference only
    assert by[("t2i", 0)]["cond_tokens"] == 0
    trained = [r["lora_train"] for r in rows if "lora_train" in r]
    assert len(trained) == 5 and all(math.isfinite(t["loss"]) and t["s_per_step"] > 0 for t in trained)
    assert "| naive | 4 |" in bench.table(rows)


def test_memory_estimate_counts_kontext_from_its_config(bench):
    counts = bench.parameter_counts()
    assert 11.8e9 < counts["transformer"] < 12.0e9  # FLUX.1's published 12 B
    assert 4.7e9 < counts["t5"] < 4.8e9  # T5-XXL's encoder
    # to_q, to_k, to_v, to_out in 19 double blocks, to_q, to_k, to_v in 38 single ones, all 3072 → 3072
    assert counts["lora_r128"] == (19 * 4 + 38 * 3) * 128 * (3072 + 3072)
    rows = {r["setting"]: r for r in bench.estimate(counts)}
    first = next(iter(rows.values()))
    assert first["gib"] > 2 * counts["transformer"] / 2**30  # at least the bf16 base
    assert bench.activation_gib(1024, 1, False) > bench.activation_gib(1024, 1, True)
