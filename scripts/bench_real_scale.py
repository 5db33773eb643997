"""Seconds per step and peak memory at FLUX.1 Kontext's real size, with random weights (nothing downloaded).

The transformer (19 double + 38 single blocks, 3072 wide, 24 heads, T5-width text, distilled guidance) and the
FLUX VAE are built on the meta device and materialised with `to_empty` on the accelerator, then filled with
random values: costs do not depend on training. Text states are random tensors of T5-XXL's shape (512 × 4096),
so no text encoder is needed. On a 1024² canvas with 1, 4 and 16 subject layers (discs on a grid, together
covering the same area), four set-ups:

- naive: every layer's full grid as condition tokens;  - pruned: transparent tokens dropped;
- pruned + condition cache (condition keys / values written once, read every later step);
- plain text-to-image (an empty canvas: no condition tokens);

each timed for inference (one denoiser call per step) and for one LoRA training step (rank 128 on the attention
projections, gradient checkpointing, AdamW; not for the cache, which is inference only).

    python scripts/bench_real_scale.py [--layers 1 4 16] [--size 1024] [--steps 5] [--out bench.json]
    python scripts/bench_real_scale.py --estimate     # the training-memory estimate (arithmetic, runs anywhere)

Without an accelerator it refuses with one line and exit status 2 (a CPU would need hours and ~50 GB of fp32).
`--shapes tiny --device cpu` runs the same code on toy shapes (tests).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

KONTEXT = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
               num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
               axes_dims_rope=(16, 56, 56))
KONTEXT_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                   down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                   layers_per_block=2, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                   use_post_quant_conv=False)
TINY = dict(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=16, guidance_embeds=True,
            axes_dims_rope=(4, 6, 6))
TINY_VAE = {**KONTEXT_VAE, "block_out_channels": (8, 8, 8, 8), "layers_per_block": 1, "norm_num_groups": 4}
SHAPES = {"kontext": (KONTEXT, KONTEXT_VAE, 512), "tiny": (TINY, TINY_VAE, 8)}  # + text tokens
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]  # the canvas task's
MODES = {"naive": dict(prune=False), "pruned": dict(prune=True), "pruned+cache": dict(prune=True, cache=True),
         "t2i": dict(prune=True)}


def refuse_without_accelerator(device: str | None, shapes: str) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cpu" and shapes != "tiny":
        print("bench_real_scale: no CUDA accelerator found; FLUX.1 Kontext shapes need one (~24 GB of bf16 weights) "
              "— nothing was run (docs/training.md)", file=sys.stderr)
        raise SystemExit(2)
    return dev


def materialise(module: torch.nn.Module, device: torch.device, dtype: torch.dtype, seed: int) -> torch.nn.Module:
    """A meta-device module → real, random tensors on `device`: matrices N(0, 0.02²), norm gains 1, biases 0."""
    module = module.to_empty(device=device)
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.02, generator=g)
            elif name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
        for b in module.buffers():
            b.zero_()
    return module.to(dtype)


def build_models(shapes: str, device: torch.device, dtype: torch.dtype):
    from diffusers import AutoencoderKL

    from layercraft.models.transformer import LayercraftFluxTransformer

    cfg, vae_cfg, _ = SHAPES[shapes]
    with torch.device("meta"):
        transformer = LayercraftFluxTransformer(**cfg)
        vae = AutoencoderKL(**vae_cfg)
    return materialise(transformer, device, dtype, 0).eval(), materialise(vae, device, dtype, 1).eval()


def disc_canvas(n: int, size: int, seed: int = 0):
    """n discs on a k×k grid, together covering what one disc of size/2 covers (same total subject area)."""
    from PIL import Image

    from layercraft.canvas import Canvas, Layer, Placement

    rng = np.random.default_rng(seed)
    k = math.ceil(math.sqrt(n))
    cell = size // k
    side = max(16, int(size / 2 / math.sqrt(n)))
    layers = []
    for i in range(n):
        yy, xx = np.mgrid[:side, :side]
        rgba = np.zeros((side, side, 4), np.uint8)
        rgba[..., :3] = rng.integers(0, 255, (side, side, 3))
        rgba[..., 3] = (((yy - side / 2 + 0.5) ** 2 + (xx - side / 2 + 0.5) ** 2) < (side / 2) ** 2) * 255
        x, y = (i % k) * cell + (cell - side) // 2, (i // k) * cell + (cell - side) // 2
        layers.append(Layer(id=f"p{i}", image=Image.fromarray(rgba, "RGBA"), placement=Placement(x=x, y=y)))
    return Canvas(width=size, height=size, layers=layers, prompt="people")


def encoders(vae, shapes: str, device: torch.device, dtype: torch.dtype):
    """Encoders with the FLUX VAE and random text states of T5-XXL's shape (CLIP's for the pooled vector)."""
    from layercraft.denoise import Encoders

    cfg, _, text_len = SHAPES[shapes]

    def encode_text(prompts: list[str], max_length: int | None = None):
        g = torch.Generator(device=device).manual_seed(len(prompts))
        n = max_length or text_len
        return (torch.randn(len(prompts), n, cfg["joint_attention_dim"], generator=g, device=device).to(dtype),
                torch.randn(len(prompts), cfg["pooled_projection_dim"], generator=g, device=device).to(dtype))

    return Encoders(encode_text=encode_text, vae=vae, latent_channels=16, stride=16, device=device, dtype=dtype,
                    text_dim=cfg["joint_attention_dim"], guidance_embeds=True)


@dataclass
class Meter:
    device: torch.device

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        self.t0 = time.perf_counter()

    def sync(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def peak_gib(self) -> float | None:
        return torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None


def inputs_for(enc, mode: str, n_layers: int, size: int):
    from layercraft.canvas import Canvas
    from layercraft.denoise import Switches, build_inputs

    canvas = Canvas(width=size, height=size, prompt="people") if mode == "t2i" else disc_canvas(n_layers, size)
    with torch.no_grad():
        return build_inputs(enc, [canvas.prompt], [canvas], "layercomposer", Switches(**MODES[mode]))


def bench_inference(model, inputs, meter: Meter, steps: int, dtype: torch.dtype) -> dict:
    from layercraft.denoise import velocity

    dev = meter.device
    x = torch.randn(1, inputs.n_noisy, 64, device=dev, dtype=dtype)
    cond = inputs.conditioning()  # one trajectory: in cache mode the first call writes the condition cache
    with torch.no_grad():
        velocity(model, inputs, x, torch.tensor([1.0], device=dev), cond)  # warm-up (and cache write)
        meter.start()
        for i in range(steps):
            velocity(model, inputs, x, torch.tensor([1.0 - (i + 1) / (steps + 1)], device=dev), cond)
        dt = (meter.sync() - meter.t0) / steps
    return {"s_per_step": dt, "peak_gib": meter.peak_gib()}


def bench_train_step(model, inputs, meter: Meter, steps: int, optimizer) -> dict:
    from layercraft.denoise import velocity

    dev = meter.device
    g = torch.Generator(device=dev).manual_seed(0)
    times = []
    meter.start()
    for _ in range(steps + 1):  # the first step allocates the optimizer state: timed apart
        t0 = meter.sync()
        x0 = torch.randn(1, inputs.n_noisy, 64, device=dev, generator=g)
        noise = torch.randn(x0.shape, device=dev, generator=g)
        sigma = torch.rand(1, device=dev, generator=g)
        xt = (1 - sigma) * x0 + sigma * noise
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            pred = velocity(model, inputs, xt, sigma, inputs.conditioning())
        loss = torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(meter.sync() - t0)
    return {"s_per_step": sum(times[1:]) / max(1, len(times) - 1), "first_step_s": times[0],
            "peak_gib": meter.peak_gib(), "loss": loss.detach().item()}


def run(layers: list[int], size: int, steps: int, shapes: str, device: torch.device) -> list[dict]:
    from peft import LoraConfig

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model, vae = build_models(shapes, device, dtype)
    enc = encoders(vae, shapes, device, dtype)
    meter = Meter(device)
    cases = [(mode, n) for n in layers for mode in MODES if mode != "t2i"] + [("t2i", 0)]
    built = {case: inputs_for(enc, case[0], case[1], size) for case in cases}
    rows = []
    for mode, n in cases:
        inp = built[(mode, n)]
        row = {"mode": mode, "layers": n, "cond_tokens": int(inp.cond_tokens.shape[1]),
               "inference": bench_inference(model, inp, meter, steps, dtype)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    model.add_adapter(LoraConfig(r=128 if shapes == "kontext" else 4, lora_alpha=128 if shapes == "kontext" else 4,
                                 init_lora_weights="gaussian", target_modules=LORA_TARGETS))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    model.enable_gradient_checkpointing()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    for row in rows:
        if row["mode"] != "pruned+cache":
            row["lora_train"] = bench_train_step(model, built[(row["mode"], row["layers"])], meter, max(1, steps // 2),
                                                 optimizer)
            print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    def mem(x):
        return "–" if x is None else f"{x:.1f}"

    lines = ["| set-up | layers | condition tokens | inference s/step | inference peak GiB | LoRA step s | "
             "LoRA step peak GiB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r.get("lora_train")
        step = "–" if t is None else f"{t['s_per_step']:.3f}"
        lines.append(f"| {r['mode']} | {r['layers']} | {r['cond_tokens']} | {r['inference']['s_per_step']:.3f} | "
                     f"{mem(r['inference']['peak_gib'])} | {step} | {'–' if t is None else mem(t['peak_gib'])} |")
    return "\n".join(lines)


# ---- the training-memory estimate (docs/training.md) ----------------------------------------------------------
def parameter_counts() -> dict[str, int]:
    """Exact parameter counts of FLUX.1 Kontext's components, from their configs on the meta device."""
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from layercraft.models.transformer import LayercraftFluxTransformer

    with torch.device("meta"):
        transformer = LayercraftFluxTransformer(**KONTEXT)
        t5 = T5EncoderModel(T5Config(d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24, vocab_size=32128,
                                     feed_forward_proj="gated-gelu", is_encoder_decoder=False))
        clip = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                            num_attention_heads=12, max_position_embeddings=77, vocab_size=49408))
        vae = AutoencoderKL(**KONTEXT_VAE)
    lora = {}
    for rank in (16, 64, 128):
        lora[rank] = sum(rank * (m.in_features + m.out_features) for name, m in transformer.named_modules()
                         if isinstance(m, torch.nn.Linear) and any(name.endswith("attn." + t) for t in LORA_TARGETS))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"transformer": count(transformer), "t5": count(t5), "clip": count(clip), "vae": count(vae),
            **{f"lora_r{r}": n for r, n in lora.items()}}


def activation_gib(side: int, batch: int, checkpointing: bool, cond_frac: float = 1.0) -> float:
    """Activation memory of one training step (bf16), from the token counts.

    S = 512 text + (side/16)² noisy + M condition tokens (M = cond_frac × the noisy count: pruned layers covering
    about one image). Per token and block, a forward pass keeps ≈ 24 × 3072 values (norms, q/k/v, rotary q/k,
    attention out, 4×-wide MLP in/out, residuals) — 24 × 3072 × 2 bytes. With gradient checkpointing only each
    block's input (3072 values per token) is kept for all 57 blocks, plus one block's full set, twice, while it
    is recomputed and back-propagated. Attention runs in SDPA's memory-efficient kernel (O(S) memory) with the
    boolean joint mask (S² bytes, plus an S² bf16 bias)."""
    noisy = (side // 16) ** 2
    s = 512 + noisy + int(cond_frac * noisy)
    per_block = 24 * 3072 * 2 * s * batch
    mask = 3 * s * s * batch
    if checkpointing:
        return (57 * 3072 * 2 * s * batch + 2 * per_block + mask) / 2**30
    return (57 * per_block + mask) / 2**30


def estimate(counts: dict[str, int]) -> list[dict]:
    gib = 2**30
    base = 2 * counts["transformer"] / gib  # bf16
    encoders = 2 * (counts["t5"] + counts["clip"] + counts["vae"]) / gib
    overhead = 1.5  # CUDA context, allocator fragmentation, workspaces
    rows = []

    def row(name, *, side=512, rank=128, cached=True, ckpt=True, opt_bytes=8, shards=1, zero2=1):
        lora = counts[f"lora_r{rank}"]
        trained = (4 + 4) * lora / gib / zero2 + opt_bytes * lora / gib / zero2 + (4 * lora / gib if zero2 > 1 else 0)
        total = base / shards + (0 if cached else encoders) + trained + activation_gib(side, 1, ckpt) + overhead
        rows.append({"setting": name, "gib": total, "fits": {c: total <= c * 0.93 for c in (24, 48, 80)}})

    row("LoRA r128, 512 px, bf16 base, cached encodings, checkpointing, AdamW")
    row("… with 8-bit AdamW", opt_bytes=2)
    row("… encoders on the GPU (no cache)", cached=False)
    row("… no gradient checkpointing", ckpt=False)
    row("… 1024 px", side=1024)
    row("… 1024 px, no gradient checkpointing", side=1024, ckpt=False)
    row("… FSDP / ZeRO-3 over 2 GPUs (per GPU)", shards=2)
    row("… FSDP / ZeRO-3 over 4 GPUs, 1024 px (per GPU)", shards=4, side=1024)
    row("LoRA r16, 512 px, cached, checkpointing, 8-bit AdamW", rank=16, opt_bytes=2)
    return rows


def estimate_table() -> str:
    counts = parameter_counts()
    head = (f"Parameters: transformer {counts['transformer'] / 1e9:.2f} B, T5-XXL encoder {counts['t5'] / 1e9:.2f} B, "
            f"CLIP-L {counts['clip'] / 1e6:.0f} M, VAE {counts['vae'] / 1e6:.0f} M; LoRA on to_q/to_k/to_v/to_out: "
            f"r16 {counts['lora_r16'] / 1e6:.1f} M, r128 {counts['lora_r128'] / 1e6:.1f} M.\n\n")
    lines = ["| setting (batch 1) | estimated GiB | 24 GB | 48 GB | 80 GB |", "|---|---|---|---|---|"]
    for r in estimate(counts):
        ok = ["fits" if r["fits"][c] else "no" for c in (24, 48, 80)]
        lines.append(f"| {r['setting']} | {r['gib']:.1f} | {' | '.join(ok)} |")
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--shapes", choices=sorted(SHAPES), default="kontext")
    ap.add_argument("--device", default=None, help="default: cuda when available")
    ap.add_argument("--out", default=None, help="also write the rows as JSON here")
    ap.add_argument("--estimate", action="store_true", help="print the training-memory estimate and exit")
    args = ap.parse_args(argv)
    if args.estimate:
        print(estimate_table())
        return 0
    device = refuse_without_accelerator(args.device, args.shapes)
    rows = run(args.layers, args.size, args.steps, args.shapes, device)
    print(table(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                       "size": args.size, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
