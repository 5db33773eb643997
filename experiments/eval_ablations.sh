#!/usr/bin/env bash
# Rows of the separately trained ablation variants (experiments/train_ablations.sh first) into the bench run folder,
# the Layout-and-Retouch λ1 sweep, then the report: docs/eval/ gets every ablation row.
# Usage: experiments/eval_ablations.sh [COUNT] [RUN]   (cases per suite, default 16; run folder, default out/eval/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-16}"
lc=.venv/bin/layercraft
run="${2:-out/eval/bench}"
common=(--out "$run" --count "$n" --size 128 --steps 20 --true-cfg 3 --no-progress)  # the resolution trained at
A=out/ablations
vanilla="$A/vanilla-t2i/final"  # the text-to-image model the LCP adapters are trained on
vanilla_1p="$A/vanilla-t2i-1p/final"  # the single-subject one the DreamBooth LoRA is trained on
# AnyPhoto: replacement curriculum vs fixed probability vs none (all trained with modulation), 2P; modulation, 4P
for v in curriculum fixed no-replacement; do
  $lc eval run --suite world-2p --method anyphoto-modulation --model "$A/anyphoto-$v/final" --variant "$v" "${common[@]}"
done
$lc eval run --suite world-4p --method anyphoto --method anyphoto-modulation --model "$A/anyphoto-curriculum/final" \
  --variant curriculum "${common[@]}"
# One-for-All trained on single-subject pairs only: with vs without CCPA + DAM, evaluated on 4 people (the claim)
# and on 1 person (what the training data covers)
$lc eval run --suite world-4p --suite world-1p --method one_for_all-plain --model "$A/ofa-single-plain/final" \
  --variant single-plain "${common[@]}"
$lc eval run --suite world-4p --suite world-1p --method one_for_all-ccpa-dam --model "$A/ofa-single-ccpa-dam/final" \
  --variant single-ccpa-dam "${common[@]}"
# LCP-Diffusion Table III: adapters trained without augmentation / static refiner / grounding; regulation off
for v in full no-augment no-static no-grounding; do
  $lc eval run --suite world-4p --method lcp --model "$vanilla" --lcp-adapter "$A/lcp-$v/final/lcp_adapter" --variant "$v" \
    "${common[@]}"
done
$lc eval run --suite world-4p --method lcp-no-regulation --model "$vanilla" --lcp-adapter "$A/lcp-full/final/lcp_adapter" \
  --variant full "${common[@]}"
# The vanilla model's prompt-only row (the floor the LCP rows start from), as many cases as the bench's references
$lc eval run --suite world-4p --suite world-1p --method base_t2i --model "$vanilla" --variant vanilla \
  --out "$run" --count 8 --size 128 --steps 20 --true-cfg 3 --no-progress
# Layout-and-Retouch: step blending with the DreamBooth LoRA on the single-subject vanilla model
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --out docs/eval/blend_sweep
# ... and its replicate at twice the seeds (the first four are the sweep's), where the sweep's verdict is decided
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --lambdas 0,2,3 \
  --out docs/eval/blend_sweep/confirm
# ... and an independent one (seeds 8-15, none shared with the sweep)
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --first-seed 8 --lambdas 0,3 \
  --out docs/eval/blend_sweep/seeds-8-15
# ... the same two replicates with the reference moved into the layout's person box (RoPE; `--align`), and both of
# them as one 128-image sweep at λ1 = 0 and 3
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --lambdas 0,2,3 --align \
  --out docs/eval/blend_sweep/confirm-aligned
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --first-seed 8 --lambdas 0,3 \
  --align --out docs/eval/blend_sweep/seeds-8-15-aligned
.venv/bin/python -m experiments.blend_sweep pool docs/eval/blend_sweep/confirm-aligned docs/eval/blend_sweep/seeds-8-15-aligned \
  --out docs/eval/blend_sweep/pooled-aligned
# ... and retouch with λ2 = 12 and 16 of 20 steps on the layout path's Q/K/V (default 8; 16 is the paper's 10 late
# reference steps of 50, read literally from Algorithm 1)
for l2 in 12 16; do
  .venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --lambdas 0,3 \
    --swap-steps $l2 --out docs/eval/blend_sweep/confirm-swap$l2
done
# ... and the main sweep's seeds at λ1 = 0 and 3 with 50 inversion + retouch steps (the layout stage keeps 20)
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --lambdas 0,3 --retouch-steps 50 \
  --out docs/eval/blend_sweep/retouch-50-steps
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 4 --first-seed 4 --lambdas 0,3 \
  --retouch-steps 50 --out docs/eval/blend_sweep/retouch-50-steps-seeds-4-7
.venv/bin/python -m experiments.blend_sweep pool docs/eval/blend_sweep/retouch-50-steps docs/eval/blend_sweep/retouch-50-steps-seeds-4-7 \
  --out docs/eval/blend_sweep/pooled-retouch-50-steps
# ... the inversion itself: plain vs fixed-point-refined flow inversion, then regeneration, on 16 λ1 = 3 layouts
.venv/bin/python -m experiments.bench_inversion --model "$vanilla_1p" --lora "$A/dreambooth-world/final" \
  --out docs/eval/blend_sweep/inversion.json | tee docs/eval/blend_sweep/inversion.md
# ... and the retouch with 2 fixed-point iterations per 20-step inversion (seeds 0-7): at λ2 = 8, then λ2 = 4 with
# two independent replicates (seeds 8-15, 16-23), pooled
.venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --lambdas 0,3 \
  --inversion-refine 2 --out docs/eval/blend_sweep/refine-2
for first in 0 8 16; do
  name=refine-2-swap4$([ "$first" = 0 ] || echo "-seeds-$first-$((first + 7))")
  .venv/bin/python -m experiments.blend_sweep sweep --model "$vanilla_1p" --lora "$A/dreambooth-world/final" --seeds 8 --first-seed $first \
    --lambdas 0,3 --inversion-refine 2 --swap-steps 4 --out "docs/eval/blend_sweep/$name"
done
.venv/bin/python -m experiments.blend_sweep pool docs/eval/blend_sweep/refine-2-swap4 docs/eval/blend_sweep/refine-2-swap4-seeds-8-15 \
  --out docs/eval/blend_sweep/pooled-refine-2-swap4
.venv/bin/python -m experiments.blend_sweep pool docs/eval/blend_sweep/refine-2-swap4 docs/eval/blend_sweep/refine-2-swap4-seeds-8-15 \
  docs/eval/blend_sweep/refine-2-swap4-seeds-16-23 --out docs/eval/blend_sweep/pooled-refine-2-swap4-192
$lc eval report "$run" --out docs/eval --title "layercraft evaluation — default"
