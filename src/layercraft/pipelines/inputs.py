"""Everything the transformer needs besides the noisy latents, built once per batch of canvases.

`prepare_inputs` is the one place that turns (prompts, canvases, scheme, switches) into text states,
position ids, condition tokens, the joint attention mask and the per-segment modulation inputs; the
pipeline's sampling loop and the trainer's loss both call `DenoiserInputs.velocity` on it, so
inference and training see identical conditioning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..canvas.types import Canvas, Category
from ..conditioning import item_text_ids, noisy_ids
from ..models.attention import ConditionKVCache
from ..models.transformer import JointConditioning
from .conditions import CanvasConditions, encode_conditions, plan_canvas, text_padding_mask
from .schemes import DEFAULT_ISOLATION, SCHEMES  # noqa: F401  (SCHEMES re-exported)


@dataclass
class Switches:
    """Each paper mechanism, switchable for ablations. None = the scheme's default."""

    prune: bool = True
    prune_rule: str = "nearest"
    prune_tau: float = 0.0
    lock_ids: bool = True
    isolation: bool | None = None
    modulation: bool = False
    ccpa: bool | None = None
    ccpa_tokens: int = 8
    ccpa_anchor: str = "paper"
    dam: bool = False
    cache: bool = False


@dataclass
class DenoiserInputs:
    transformer: Any
    text: torch.Tensor  # (B, T', D) prompt tokens (+ CCPA descriptor tokens)
    pooled: torch.Tensor  # (B, Dp)
    neg_text: torch.Tensor | None  # same, for true CFG
    neg_pooled: torch.Tensor | None
    txt_ids: torch.Tensor  # (T', 3) or (B, T', 3)
    img_ids: torch.Tensor  # (L + M, 3) or (B, L + M, 3)
    cond_tokens: torch.Tensor  # (B, M, C·4)
    conds: CanvasConditions
    mask: torch.Tensor | None  # (B, 1, S, S) bool or None for the plain full-attention path
    identity: tuple[torch.Tensor, torch.Tensor] | tuple[None, None]  # (B, K, E), (B, K)
    switches: Switches
    n_noisy: int
    guidance: torch.Tensor | None  # (B,) distilled-guidance input when the model takes one

    def conditioning(self) -> JointConditioning:
        """A fresh conditioning (with a fresh KV cache in cache mode) for one denoising trajectory."""
        dev = self.text.device
        return JointConditioning(self.conds.batch.segment.to(dev), self.mask, *self.identity,
                                 timestep_free=self.switches.cache, dam=self.switches.dam,
                                 kv_cache=ConditionKVCache() if self.switches.cache else None)

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: JointConditioning, negative: bool = False,
                 joint_attention_kwargs: dict | None = None) -> torch.Tensor:
        """x (B, L, C·4) noisy tokens at noise level sigma (B,) in [0, 1] → velocity (B, L, C·4)."""
        b = x.shape[0]
        reading = cond.kv_cache is not None and cond.kv_cache.filled
        hidden = x if reading else torch.cat([x, self.cond_tokens.to(x.dtype)], 1)  # (B, L [+ M], C·4)
        ids = self.img_ids[..., : self.n_noisy, :] if reading else self.img_ids
        txt, pool = (self.neg_text, self.neg_pooled) if negative else (self.text, self.pooled)
        out = self.transformer(hidden, txt, pool, sigma.expand(b).to(x.dtype), ids, self.txt_ids.to(x.device),
                               self.guidance, joint_attention_kwargs, conditioning=cond).sample
        return out[:, : self.n_noisy]


def prepare_inputs(pipe: Any, prompts: list[str], canvases: list[Canvas], scheme: str, switches: Switches,
                   negative: list[str] | None = None, identity_embeds: list[dict[str, torch.Tensor]] | None = None,
                   guidance_scale: float = 3.5) -> DenoiserInputs:
    """Build the denoiser inputs for a batch; `pipe` supplies the encoders (a LayeredCanvasPipeline)."""
    sw = switches
    isolation = DEFAULT_ISOLATION[scheme] if sw.isolation is None else sw.isolation
    ccpa = (scheme == "one_for_all") if sw.ccpa is None else sw.ccpa
    grid = (canvases[0].height // pipe.stride, canvases[0].width // pipe.stride)
    device, dtype = pipe._execution_device, pipe.transformer.dtype
    b, n_noisy = len(canvases), grid[0] * grid[1]
    plans = [plan_canvas(c, scheme, grid, prune=sw.prune, lock_ids=sw.lock_ids, rule=sw.prune_rule, tau=sw.prune_tau)
             for c in canvases]

    # 1. text: prompt tokens (+ CCPA descriptor tokens at their block centres)
    text, pooled = pipe.encode_text(prompts)  # (B, T, D), (B, Dp)
    neg_text, neg_pooled = pipe.encode_text(negative) if negative is not None else (None, None)
    conds = encode_conditions(pipe.vae, canvases, scheme, grid, plans=plans)
    batch = conds.batch
    txt_ids = torch.zeros(text.shape[1], 3)
    text_lengths = [text.shape[1]] * b
    if ccpa:
        states, desc_ids = descriptor_text(pipe, conds, grid, sw.ccpa_tokens, sw.ccpa_anchor)
        text, txt_ids, text_lengths = _append_text(text, states, desc_ids)
        if neg_text is not None:
            neg_text, _, _ = _append_text(neg_text, states, desc_ids)

    # 2. joint attention mask, ids, modulation inputs
    mode = ("isolated" if isolation else "full") + ("_cacheable" if sw.cache else "")
    mode = mode.replace("full_", "")
    ragged = len({sum(ln) for ln in batch.lengths}) > 1 or len(set(text_lengths)) > 1
    mask = None
    if mode != "full" or ragged:
        mask = batch.attention_mask(text.shape[1], n_noisy, mode)
        mask = text_padding_mask(mask, text_lengths).to(device)
    ids_noisy = noisy_ids(grid)  # (L, 3)
    if b == 1 and txt_ids.ndim == 2:
        img_ids = torch.cat([ids_noisy, batch.ids[0]])  # (L + M, 3): the stock shared-table path
    else:
        img_ids = torch.cat([ids_noisy.expand(b, -1, -1), batch.ids], 1)  # (B, L + M, 3)
        txt_ids = txt_ids if txt_ids.ndim == 3 else txt_ids.expand(b, -1, -1)
    cond_tokens = batch.tokens.reshape(b, batch.tokens.shape[1], pipe.latent_channels * 4).to(device, dtype)
    identity = _identity_table(identity_embeds, conds, device, dtype) if sw.modulation else (None, None)
    guidance = (torch.full((b,), float(guidance_scale), device=device, dtype=torch.float32)
                if pipe.transformer.config.guidance_embeds else None)
    return DenoiserInputs(pipe.transformer, text, pooled, neg_text, neg_pooled, txt_ids, img_ids, cond_tokens, conds,
                          mask, identity, sw, n_noisy, guidance)


def descriptor_text(pipe: Any, conds: CanvasConditions, grid: tuple[int, int], n_tokens: int,
                    anchor: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """CCPA: per canvas, descriptor token states (n_desc·n_tokens, D) and their ids at the block centres."""
    states, ids = [], []
    for plans in conds.plans:
        described = [p for p in plans if p.descriptor]
        if not described:
            states.append(torch.zeros(0, pipe.transformer.config.joint_attention_dim))
            ids.append(torch.zeros(0, 3))
            continue
        tokens, _ = pipe.encode_text([p.descriptor for p in described], n_tokens)  # (n_desc, n_tokens, D)
        states.append(tokens.reshape(-1, tokens.shape[-1]).cpu())
        ids.append(torch.cat([item_text_ids(Category(p.spec.category), tuple(p.spec.keep.shape), grid, n_tokens,
                                            anchor) for p in described]))
    return states, ids


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
