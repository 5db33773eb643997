#!/usr/bin/env bash
# Train the separately trained ablation variants, one after another (2 CPU cores: never in
# parallel). Each is resumable: run this again and finished runs are skipped, interrupted ones resume.
# The vanilla text-to-image models come first: the LCP adapters are trained on vanilla-t2i, the DreamBooth LoRA
# on vanilla-t2i-1p.
# Usage: experiments/train_ablations.sh [NAME ...]   (default: every config under configs/ablations/)
set -euo pipefail
cd "$(dirname "$0")/.."
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(vanilla-t2i vanilla-t2i-1p)
  for f in configs/ablations/*.yaml; do
    n="$(basename "$f" .yaml)"
    [[ "$n" = vanilla-t2i* ]] || names+=("$n")
  done
fi
for name in "${names[@]}"; do
  out="out/ablations/$name"
  if [ -e "$out/final" ]; then echo "== $name: done ($out/final)"; continue; fi
  echo "== $name"
  .venv/bin/layercraft train "configs/ablations/$name.yaml"
done
