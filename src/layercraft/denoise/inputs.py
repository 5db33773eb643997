"""Model-free denoiser inputs: everything the transformer needs besides the noisy latents, as tensors.

`build_inputs` is the one function that turns (encoders, prompts, canvases, scheme, switches) into
text states, position ids, condition tokens, the joint attention mask and the per-segment
modulation inputs; the pipelines' sampling loop and the training tasks' losses both call
`velocity(model, inputs, …)` on the result, so inference and training see identical conditioning.
The model is never part of the inputs: it is an argument of every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from diffusers.models.modeling_utils import ModelMixin

from ..canvas.types import Canvas, Category
from ..conditioning import ConditionBatch, SegmentPlan, assemble, item_text_ids, noisy_ids, pack, plan_segments
from ..conditioning.schemes import Scheme, get_scheme
from ..models.attention import ConditionKVCache
from ..models.autoencoder import latent_geometry, to_latents
from ..models.transformer import JointConditioning
from .canvas_pixels import rgba_to_tensor
from .switches import Switches

TextEncoder = Callable[[list[str], int | None], tuple[torch.Tensor, torch.Tensor]]  # → (B, T, D), (B, Dp)


@dataclass(frozen=True)
class Encoders:
    """What building inputs needs from a pipeline: its encoders and the transformer's geometry, nothing more."""

    encode_text: TextEncoder  # (prompts, max_length or None) → token states, pooled; on `device` in `dtype`
    vae: ModelMixin
    latent_channels: int
    stride: int  # canvas pixels per packed token side
    device: torch.device
    dtype: torch.dtype
    text_dim: int  # the transformer's joint_attention_dim (CCPA descriptor states)
    guidance_embeds: bool  # the transformer takes a distilled-guidance input


@dataclass
class CanvasConditions:
    batch: ConditionBatch  # tokens (B, M, C·4), ids (B, M, 3), segment (B, M), valid (B, M)
    plans: list[list[SegmentPlan]]  # per canvas, the segments in token order


@dataclass
class DenoiserInputs:
    text: torch.Tensor  # (B, T', D) prompt tokens (+ CCPA descriptor tokens)
    pooled: torch.Tensor  # (B, Dp)
    neg_text: torch.Tensor | None  # same, for true CFG
    neg_pooled: torch.Tensor | None
    txt_ids: torch.Tensor  # (T', 3) or (B, T', 3)
    img_ids: torch.Tensor  # (L + M, 3) or (B, L + M, 3)
    cond_tokens: torch.Tensor  # (B, M, C·4)
    conds: CanvasConditions
    mask: torch.Tensor | None  # (B, 1, S, S) bool, or None for the plain full-attention path
    identity: tuple[torch.Tensor, torch.Tensor] | tuple[None, None]  # (B, K, E), (B, K)
    switches: Switches
    n_noisy: int
    guidance: torch.Tensor | None  # (B,) distilled-guidance input when the model takes one
    guidance_scales: torch.Tensor | None = None  # (B, 2) text and canvas scales for a guidance-distilled model

    @property
    def batch_size(self) -> int:
        return self.text.shape[0]

    def conditioning(self, repeat: int = 1) -> JointConditioning:
        """A fresh conditioning (with a fresh KV cache in cache mode) for one denoising trajectory of `repeat`
        stacked copies of the batch (guidance branches sharing one call)."""
        dev = self.text.device
        segment = self.conds.batch.segment.to(dev).repeat(repeat, 1)  # (r·B, M)
        mask = self.mask
        if mask is not None and repeat > 1 and mask.shape[0] > 1:
            mask = mask.repeat(repeat, 1, 1, 1)
        table, valid = self.identity
        if table is not None and repeat > 1:
            table, valid = table.repeat(repeat, 1, 1), valid.repeat(repeat, 1)
        return JointConditioning(segment, mask, table, valid, timestep_free=self.switches.cache,
                                 dam=self.switches.dam, kv_cache=ConditionKVCache() if self.switches.cache else None)

    def text_for(self, negative: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if not negative:
            return self.text, self.pooled
        if self.neg_text is None:
            raise ValueError("these inputs were built without negative prompts")
        return self.neg_text, self.neg_pooled


def velocity(model: torch.nn.Module, inputs: DenoiserInputs, x: torch.Tensor, sigma: torch.Tensor,
             cond: JointConditioning, negatives: tuple[bool, ...] = (False,),
             joint_attention_kwargs: dict | None = None) -> torch.Tensor:
    """x (r·B, L, C·4) noisy tokens at noise level σ (scalar or (r·B,)) → velocity (r·B, L, C·4).

    `negatives` names, for each of the r stacked copies of the batch, whether it reads the negative prompt; `cond`
    must come from `inputs.conditioning(repeat=r)`. r = 1 is the plain single-branch call."""
    r, b = len(negatives), inputs.batch_size
    if x.shape[0] != r * b:
        raise ValueError(f"x has {x.shape[0]} rows for {r} branch(es) × batch {b}")
    reading = cond.kv_cache is not None and cond.kv_cache.filled
    cond_tokens = inputs.cond_tokens.to(x.dtype).repeat(r, 1, 1)
    hidden = x if reading else torch.cat([x, cond_tokens], 1)  # (r·B, L [+ M], C·4)
    ids = inputs.img_ids[..., : inputs.n_noisy, :] if reading else inputs.img_ids
    texts = [inputs.text_for(n) for n in negatives]
    text = torch.cat([t for t, _ in texts]) if r > 1 else texts[0][0]  # (r·B, T', D)
    pooled = torch.cat([p for _, p in texts]) if r > 1 else texts[0][1]
    txt_ids = inputs.txt_ids.to(x.device)
    if r > 1:
        ids = ids if ids.ndim == 2 else ids.repeat(r, 1, 1)
        txt_ids = txt_ids if txt_ids.ndim == 2 else txt_ids.repeat(r, 1, 1)
    guidance = None if inputs.guidance is None else inputs.guidance.repeat(r)
    timestep = torch.as_tensor(sigma, device=x.device).to(x.dtype)
    timestep = timestep.repeat(r) if timestep.numel() == b and r > 1 else timestep.expand(r * b)  # (r·B,)
    extra = {} if inputs.guidance_scales is None else {"guidance_scales": inputs.guidance_scales.repeat(r, 1)}
    out = model(hidden_states=hidden, encoder_hidden_states=text, pooled_projections=pooled, timestep=timestep,
                img_ids=ids, txt_ids=txt_ids, guidance=guidance, joint_attention_kwargs=joint_attention_kwargs,
                conditioning=cond, **extra).sample
    return out[:, : inputs.n_noisy]


def encode_conditions(vae: ModelMixin, plans: list[list[SegmentPlan]], scheme: str | Scheme,
                      grid: tuple[int, int]) -> CanvasConditions:
    """Planned segments of each canvas → encoded, packed, pruned condition tokens with ids, collated."""
    samples = [assemble(p, encode_segments(vae, p), scheme, grid) for p in plans]
    return CanvasConditions(ConditionBatch.collate(samples), plans)


# Tokens of context encoded around a layer's kept tokens: a learned encoder sees this far past the crop's edge
# (measured on the world autoencoder: scripts/bench_crop_encode.py); a pixel-local one (pixel unshuffle) needs none.
CROP_MARGIN = 2


def crop_box(keep: torch.Tensor, margin: int = CROP_MARGIN) -> tuple[int, int, int, int] | None:
    """Token box (y0, y1, x0, x1) around the True cells of `keep` (h, w), grown by `margin` tokens and clipped to
    the grid; None when nothing is kept."""
    rows, cols = keep.any(dim=1).nonzero().flatten(), keep.any(dim=0).nonzero().flatten()
    if rows.numel() == 0:
        return None
    h, w = keep.shape
    return (max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, h),
            max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, w))


def encode_segments(vae: ModelMixin, plans: list[SegmentPlan], margin: int | None = CROP_MARGIN) -> list[torch.Tensor]:
    """Each plan's pixels → packed latent tokens (h·w, C·4), row-major; same-size crops share a batch.

    Only the box around a plan's kept tokens (plus `margin` tokens of context) is encoded: the tokens outside it
    are pruned by every scheme, so they are left zero. A person on a 1024² layer costs its own area, not the
    canvas's. `margin=None` encodes every plan whole."""
    factor, channels = latent_geometry(vae)
    px, dim = 2 * factor, channels * 4  # pixels per token side, packed token width (2×2 patches)
    out: list[torch.Tensor | None] = [None] * len(plans)
    crops: dict[tuple[int, ...], list[tuple[int, tuple[int, int, int, int], np.ndarray]]] = {}
    for i, p in enumerate(plans):
        h, w = p.spec.keep.shape
        if p.rgba.shape[:2] != (h * px, w * px):
            raise ValueError(f"segment {p.layer_id!r}: {p.rgba.shape[1]}×{p.rgba.shape[0]} px for a {w}×{h} token "
                             f"grid of {px} px tokens")
        box = (0, h, 0, w) if margin is None else crop_box(p.spec.keep, margin)
        if box is None:  # nothing kept: no pixels to encode
            out[i] = torch.zeros(h * w, dim)
            continue
        y0, y1, x0, x1 = box
        crop = p.rgba[y0 * px:y1 * px, x0 * px:x1 * px]
        crops.setdefault(crop.shape, []).append((i, box, crop))
    for members in crops.values():
        images = torch.stack([rgba_to_tensor(crop) for _, _, crop in members]).to(vae.device)  # (n, 3, H, W)
        latents = to_latents(vae, images)  # (n, C, H/f, W/f)
        for j, (i, (y0, y1, x0, x1), _) in enumerate(members):
            h, w = plans[i].spec.keep.shape
            tokens = torch.zeros(h, w, dim)
            tokens[y0:y1, x0:x1] = pack(latents[j].float()).view(y1 - y0, x1 - x0, dim)
            out[i] = tokens.view(h * w, dim)
    return out


def plan_canvas(canvas: Canvas, scheme: str | Scheme, grid: tuple[int, int], switches: Switches) -> list[SegmentPlan]:
    """Segment plans for one canvas; `lock_ids=False` gives every layer its own index (no locking)."""
    sw = switches
    plans = plan_segments(canvas, scheme, grid, prune=sw.prune, rule=sw.prune_rule, tau=sw.prune_tau,
                          ref_grid=sw.ref_grid_for(grid))
    if not sw.lock_ids:
        plans = [replace(p, spec=replace(p.spec, locked=False)) for p in plans]
    return plans


def build_inputs(encoders: Encoders, prompts: list[str], canvases: list[Canvas], scheme: str | Scheme,
                 switches: Switches, negative: list[str] | None = None,
                 identity_embeds: list[dict[str, torch.Tensor]] | None = None,
                 guidance_scale: float = 3.5, *, text_embeds: tuple[torch.Tensor, torch.Tensor] | None = None,
                 negative_embeds: tuple[torch.Tensor, torch.Tensor] | None = None,
                 max_length: int | None = None) -> DenoiserInputs:
    """The denoiser inputs for a batch of canvases (one size) and their prompts.

    `text_embeds` / `negative_embeds` = (token states (B, T, D), pooled (B, Dp)) replace encoding `prompts` /
    `negative`; `max_length` caps the prompt tokens (default: the encoders' own)."""
    enc, sw, sch = encoders, switches, get_scheme(scheme)
    grid = (canvases[0].height // enc.stride, canvases[0].width // enc.stride)
    device, dtype = enc.device, enc.dtype
    b, n_noisy = len(canvases), grid[0] * grid[1]
    plans = [plan_canvas(c, sch, grid, sw) for c in canvases]

    # 1. text: prompt tokens (+ CCPA descriptor tokens at their block centres)
    text, pooled = _embeds(text_embeds, device, dtype) if text_embeds is not None else \
        enc.encode_text(prompts, max_length)  # (B, T, D), (B, Dp)
    neg_text, neg_pooled = None, None
    if negative_embeds is not None:
        neg_text, neg_pooled = _embeds(negative_embeds, device, dtype)
    elif negative is not None:
        neg_text, neg_pooled = enc.encode_text(negative, max_length)
    if neg_text is not None and neg_text.shape[1] != text.shape[1]:
        raise ValueError(f"negative prompt tokens ({neg_text.shape[1]}) and prompt tokens ({text.shape[1]}) differ "
                         "in length; encode both to the same max_sequence_length")
    conds = encode_conditions(enc.vae, plans, sch, grid)
    batch = conds.batch
    txt_ids = torch.zeros(text.shape[1], 3)
    text_lengths = [text.shape[1]] * b
    if sw.ccpa_for(sch):
        states, desc_ids = descriptor_text(enc, conds, grid, sw.ccpa_tokens, sw.ccpa_anchor)
        text, txt_ids, text_lengths = _append_text(text, states, desc_ids)
        if neg_text is not None:
            neg_text, _, _ = _append_text(neg_text, states, desc_ids)

    # 2. joint attention mask, ids, modulation inputs
    spec = sch.mask(sw.isolation, sw.cache)
    ragged = len({sum(ln) for ln in batch.lengths}) > 1 or len(set(text_lengths)) > 1
    mask = None
    if not spec.full or ragged:
        mask = text_padding_mask(batch.attention_mask(text.shape[1], n_noisy, spec), text_lengths).to(device)
    ids_noisy = noisy_ids(grid)  # (L, 3)
    if b == 1 and txt_ids.ndim == 2:
        img_ids = torch.cat([ids_noisy, batch.ids[0]])  # (L + M, 3): the stock shared-table path
    else:
        img_ids = torch.cat([ids_noisy.expand(b, -1, -1), batch.ids], 1)  # (B, L + M, 3)
        txt_ids = txt_ids if txt_ids.ndim == 3 else txt_ids.expand(b, -1, -1)
    cond_tokens = batch.tokens.reshape(b, batch.tokens.shape[1], enc.latent_channels * 4).to(device, dtype)
    identity = _identity_table(identity_embeds, conds, device, dtype) if sw.modulation else (None, None)
    guidance = (torch.full((b,), float(guidance_scale), device=device, dtype=torch.float32)
                if enc.guidance_embeds else None)
    return DenoiserInputs(text, pooled, neg_text, neg_pooled, txt_ids, img_ids, cond_tokens, conds, mask, identity,
                          sw, n_noisy, guidance)


def _embeds(pair: tuple[torch.Tensor, torch.Tensor], device: torch.device,
            dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    tokens, pooled = pair
    if tokens.ndim != 3 or pooled.ndim != 2 or tokens.shape[0] != pooled.shape[0]:
        raise ValueError(f"prompt embeddings must be (B, T, D) and pooled (B, Dp), got {tuple(tokens.shape)} and "
                         f"{tuple(pooled.shape)}")
    return tokens.to(device, dtype), pooled.to(device, dtype)


def descriptor_text(encoders: Encoders, conds: CanvasConditions, grid: tuple[int, int], n_tokens: int,
                    anchor: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """CCPA: per canvas, descriptor token states (n_desc·n_tokens, D) and their ids at the block centres."""
    states, ids = [], []
    for plans in conds.plans:
        described = [p for p in plans if p.descriptor]
        if not described:
            states.append(torch.zeros(0, encoders.text_dim))
            ids.append(torch.zeros(0, 3))
            continue
        tokens, _ = encoders.encode_text([p.descriptor for p in described], n_tokens)  # (n_desc, n_tokens, D)
        states.append(tokens.reshape(-1, tokens.shape[-1]).cpu())
        ids.append(torch.cat([item_text_ids(Category(p.spec.category), tuple(p.spec.keep.shape), grid, n_tokens,
                                            anchor) for p in described]))
    return states, ids


def text_padding_mask(mask: torch.Tensor, text_lengths: list[int]) -> torch.Tensor:
    """mask (B, 1, S, S) over [text padded to T; ...] → padded text keys masked for every query;
    a padded text query sees only itself."""
    mask = mask.clone()
    t = max(text_lengths)
    for b, n in enumerate(text_lengths):
        if n < t:
            mask[b, :, :, n:t] = False
            mask[b, :, n:t, :] = False
            idx = torch.arange(n, t)
            mask[b, :, idx, idx] = True
    return mask


def _append_text(text: torch.Tensor, states: list[torch.Tensor],
                 desc_ids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """[prompt tokens (T); descriptor tokens (n_b)] per sample, zero-padded → (B, T + max n_b, D), ids (B, ·, 3)."""
    b, t, d = text.shape
    n = max(s.shape[0] for s in states)
    out = torch.zeros(b, t + n, d, dtype=text.dtype, device=text.device)
    ids = torch.zeros(b, t + n, 3)
    out[:, :t] = text
    for i, (s, p) in enumerate(zip(states, desc_ids, strict=True)):
        out[i, t : t + s.shape[0]] = s.to(text)
        ids[i, t : t + s.shape[0]] = p
    return out, ids, [t + s.shape[0] for s in states]


def _identity_table(identity_embeds: list[dict[str, torch.Tensor]] | None, conds: CanvasConditions,
                    device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per canvas {layer id → (E,)} → (B, K, E) in segment order and (B, K) bool: which segments have one."""
    if identity_embeds is None:
        raise ValueError("modulation=True needs identity_embeds (one dict layer id → embedding per canvas)")
    k = max(len(p) for p in conds.plans)
    e = next(v for d in identity_embeds for v in d.values()).shape[-1]
    table = torch.zeros(len(conds.plans), k, e)
    valid = torch.zeros(len(conds.plans), k, dtype=torch.bool)
    for i, (plans, embeds) in enumerate(zip(conds.plans, identity_embeds, strict=True)):
        unknown = set(embeds) - {p.layer_id for p in plans}
        if unknown:
            raise ValueError(f"identity_embeds for canvas {i} name layers not in it: {sorted(unknown)}")
        for j, p in enumerate(plans):
            if p.layer_id in embeds:
                table[i, j], valid[i, j] = torch.as_tensor(embeds[p.layer_id]).float().reshape(-1), True
    return table.to(device, dtype), valid.to(device)
