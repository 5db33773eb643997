#!/usr/bin/env bash
# docs/eval/ from scratch: every world suite with the reference rows and the ablation switch rows on the embedded
# default, then the separately trained ablation variants and their rows, the λ1 sweep and the report.
# ≈ 4 h on 2 CPU cores (bench ≈ 14 min, variant training ≈ 140 min, their rows and the λ1 sweeps ≈ 90 min); every step resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/layercraft eval bench --count 8 --steps 20 --true-cfg 3
experiments/train_ablations.sh
experiments/eval_ablations.sh 16 out/eval/bench
