"""LayercraftFluxTransformer: FLUX.1 / Kontext transformer that loads stock weights unchanged.

The image stream is [noisy (L); condition tokens (M)], exactly where Kontext puts its context
latents, and the joint attention sequence is [text (T); noisy; conditions] — the order of
`layercraft.conditioning` masks. Everything new is off by default:

- `conditioning.attention_mask`: boolean joint mask (B|1, 1, S, S), reaching attention through
  `LayercraftAttnProcessor`;
- per-sample position ids: `img_ids` / `txt_ids` may be (B, N, 3); rotary tables are then per sample;
- per-segment modulation: condition tokens use c + IdentityProjector(e_k) (AnyPhoto) and/or a
  timestep-free base vector (cache mode) instead of c;
- DAM temperature generators (config `dam_hidden_dim > 0`, switched on per call with `dam=True`);
- a condition KV cache (`conditioning.kv_cache`): the first call writes condition keys/values, later
  calls pass only the noisy latents and reuse them.
- `prediction_type` (config): "flow" (stock: the network is the velocity), "sample" (it predicts x̂₀) or
  "preconditioned" (x̂₀ = c_skip·x_σ + c_out·F); the forward always returns the velocity, so pipelines and
  trainers see a flow model either way. The embedded default is preconditioned: a small pixel-space model
  cannot pass high-dimensional noise through (v-prediction) nor reproduce fine detail at low σ (x-prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from diffusers.configuration_utils import register_to_config
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.transformers.transformer_flux import FluxTransformer2DModel
from diffusers.utils import apply_lora_scale

from .attention import ConditionKVCache, LayercraftAttnProcessor, TemperatureGenerator
from .blocks import LayercraftSingleTransformerBlock, LayercraftTransformerBlock
from .modulation import GuidanceScaleEmbedder, IdentityProjector, TokenModulation


@dataclass
class JointConditioning:
    """What the transformer needs to know about the condition tokens at the end of the image stream."""

    segment: torch.Tensor  # (B, M) long, segment index of each condition token, -1 on padding
    attention_mask: torch.Tensor | None = None  # (B|1, 1, T + L + M, T + L + M) bool, True = may attend
    identity_embeds: torch.Tensor | None = None  # (B, K, E) one identity embedding per segment
    identity_valid: torch.Tensor | None = None  # (B, K) bool, segments that have an identity
    timestep_free: bool = False  # condition tokens use c at t = 0 instead of the step's c
    dam: bool = False  # apply the DAM temperature generators
    kv_cache: ConditionKVCache | None = None

    @property
    def n_cond(self) -> int:
        return self.segment.shape[1]


def _control_schedule(samples: list[torch.Tensor] | None, n_blocks: int,
                      repeat: bool = False) -> Callable[[int], torch.Tensor] | None:
    """Which ControlNet residual follows block i, as stock FLUX spreads k residuals over n blocks (or, XLabs
    style, repeats them)."""
    if samples is None:
        return None
    if repeat:
        return lambda i: samples[i % len(samples)]
    interval = int(np.ceil(n_blocks / len(samples)))
    return lambda i: samples[i // interval]


def _is_extension_key(key: str) -> bool:
    """A weight of a layercraft extension module (identity projector, DAM temperature generator, guidance-scale
    embedder)."""
    return (key.startswith("identity_projector.") or ".attn.temperature." in key
            or key.startswith("guidance_scale_embedder."))


def rotary_tables(pos_embed: nn.Module, txt_ids: torch.Tensor, img_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(cos, sin) shared (S, Dh) when both id tables are 2-D, else per sample (B, S, Dh)."""
    if txt_ids.ndim == 2 and img_ids.ndim == 2:
        return pos_embed(torch.cat([txt_ids, img_ids], dim=0))
    b = txt_ids.shape[0] if txt_ids.ndim == 3 else img_ids.shape[0]
    txt = txt_ids if txt_ids.ndim == 3 else txt_ids.expand(b, -1, -1)
    img = img_ids if img_ids.ndim == 3 else img_ids.expand(b, -1, -1)
    ids = torch.cat([txt, img], dim=1)  # (B, S, 3)
    cos, sin = pos_embed(ids.reshape(-1, 3))
    return cos.view(b, ids.shape[1], -1), sin.view(b, ids.shape[1], -1)


PREDICTION_TYPES = ("flow", "sample", "preconditioned")


class LayercraftFluxTransformer(FluxTransformer2DModel):
    _no_split_modules = ["LayercraftTransformerBlock", "LayercraftSingleTransformerBlock"]
    _repeated_blocks = ["LayercraftTransformerBlock", "LayercraftSingleTransformerBlock"]

    @register_to_config
    def __init__(
        self,
        patch_size: int = 1,
        in_channels: int = 64,
        out_channels: int | None = None,
        num_layers: int = 19,
        num_single_layers: int = 38,
        attention_head_dim: int = 128,
        num_attention_heads: int = 24,
        joint_attention_dim: int = 4096,
        pooled_projection_dim: int = 768,
        guidance_embeds: bool = False,
        axes_dims_rope: tuple[int, int, int] = (16, 56, 56),
        identity_embed_dim: int = 0,
        dam_hidden_dim: int = 0,
        dam_t_min: float = 0.01,
        prediction_type: str = "flow",
        sigma_floor: float = 0.05,
        guidance_distilled: bool = False,  # takes (text, canvas) guidance scales as an input: one pass per step
    ):
        super().__init__(patch_size=patch_size, in_channels=in_channels, out_channels=out_channels,
                         num_layers=num_layers, num_single_layers=num_single_layers,
                         attention_head_dim=attention_head_dim, num_attention_heads=num_attention_heads,
                         joint_attention_dim=joint_attention_dim, pooled_projection_dim=pooled_projection_dim,
                         guidance_embeds=guidance_embeds, axes_dims_rope=axes_dims_rope)
        dim, heads = self.inner_dim, num_attention_heads
        self.transformer_blocks = nn.ModuleList(
            [LayercraftTransformerBlock(dim, heads, attention_head_dim) for _ in range(num_layers)])
        self.single_transformer_blocks = nn.ModuleList(
            [LayercraftSingleTransformerBlock(dim, heads, attention_head_dim) for _ in range(num_single_layers)])
        for block in (*self.transformer_blocks, *self.single_transformer_blocks):
            block.attn.set_processor(LayercraftAttnProcessor())
            if dam_hidden_dim > 0:
                block.attn.temperature = TemperatureGenerator(dim, heads, dam_hidden_dim, dam_t_min)
        self.identity_projector = IdentityProjector(identity_embed_dim, dim) if identity_embed_dim > 0 else None
        self.guidance_scale_embedder = GuidanceScaleEmbedder(dim) if guidance_distilled else None
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, not {prediction_type!r}")

    @classmethod
    def from_stock(cls, stock: FluxTransformer2DModel, **extensions: Any) -> LayercraftFluxTransformer:
        """Ours with the stock model's config and weights; `extensions` sets the new config fields.

        Only the new modules may be missing from the stock state dict; anything else is an error.
        """
        model = cls(**{**{k: v for k, v in stock.config.items() if not k.startswith("_")}, **extensions})
        missing, unexpected = model.load_state_dict(stock.state_dict(), strict=False)
        new = [k for k in missing if not _is_extension_key(k)]
        if new or unexpected:
            raise ValueError(f"stock state dict does not fit: missing {new}, unexpected {unexpected}")
        return model if model.dtype == stock.dtype else model.to(stock.dtype)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, **kwargs: Any) -> LayercraftFluxTransformer:
        """diffusers' loader, plus: extension modules the checkpoint lacks (a stock FLUX / Kontext checkpoint
        loaded with `identity_embed_dim=…` or `dam_hidden_dim=…`) are built with their identity initialisation on
        the device and dtype of the weights around them, never left on the meta device or uninitialised. Any other
        missing weight is an error."""
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(pretrained_model_name_or_path, output_loading_info=True, **kwargs)
        missing = list(info.get("missing_keys", []))
        other = [k for k in missing if not _is_extension_key(k)]
        if other:
            raise ValueError(f"checkpoint lacks weights that are not layercraft extensions: {other[:8]}")
        if missing:
            model.init_extensions({k for k in missing if _is_extension_key(k)})
        return (model, info) if want_info else model

    def init_extensions(self, missing: set[str] | None = None) -> None:
        """(Re)build the identity projector and DAM generators named in `missing` (all of them when None) with their
        identity initialisation (zero offset, temperature 1), placed like the weights of the block they sit in."""
        cfg = self.config
        dim = cfg.num_attention_heads * cfg.attention_head_dim

        def wanted(prefix: str) -> bool:
            return missing is None or any(k.startswith(prefix) for k in missing)

        for kind, blocks in (("transformer_blocks", self.transformer_blocks),
                             ("single_transformer_blocks", self.single_transformer_blocks)):
            for i, block in enumerate(blocks):
                if cfg.dam_hidden_dim > 0 and wanted(f"{kind}.{i}.attn.temperature."):
                    ref = block.attn.to_q.weight
                    block.attn.temperature = TemperatureGenerator(dim, cfg.num_attention_heads, cfg.dam_hidden_dim,
                                                                  cfg.dam_t_min).to(ref.device, ref.dtype)
        if cfg.identity_embed_dim > 0 and wanted("identity_projector."):
            ref = self.x_embedder.weight
            self.identity_projector = IdentityProjector(cfg.identity_embed_dim, dim).to(ref.device, ref.dtype)
        if cfg.get("guidance_distilled", False) and wanted("guidance_scale_embedder."):
            ref = self.x_embedder.weight
            self.guidance_scale_embedder = GuidanceScaleEmbedder(dim).to(ref.device, ref.dtype)

    def enable_distilled_guidance(self) -> None:
        """Make this model take the (text, canvas) guidance scales as an input: a zero-initialised
        `GuidanceScaleEmbedder` (so the outputs do not change until it is trained) and `guidance_distilled=True`
        in the config, placed like the weights around it."""
        if self.guidance_scale_embedder is None:
            ref = self.x_embedder.weight
            self.guidance_scale_embedder = GuidanceScaleEmbedder(self.inner_dim).to(ref.device, ref.dtype)
        self.register_to_config(guidance_distilled=True)

    def _token_modulation(self, temb: torch.Tensor, pooled: torch.Tensor, guidance: torch.Tensor | None,
                          cond: JointConditioning, n_noisy: int) -> TokenModulation | None:
        if not cond.timestep_free and cond.identity_embeds is None:
            return None
        b = temb.shape[0]
        base = temb
        if cond.timestep_free:
            t0 = torch.zeros(b, dtype=temb.dtype, device=temb.device)
            base = self.time_text_embed(t0, pooled) if guidance is None else self.time_text_embed(t0, guidance, pooled)
        k = int(cond.segment.max().item()) + 1 if cond.segment.numel() else 0
        vectors = base[:, None].expand(b, k, -1)  # (B, K, D)
        if cond.identity_embeds is not None:
            if self.identity_projector is None:
                raise ValueError("identity_embeds given but the model has no identity projector "
                                 "(config identity_embed_dim = 0)")
            offset = self.identity_projector(cond.identity_embeds.to(temb.dtype))  # (B, K', D)
            if cond.identity_valid is not None:
                offset = offset * cond.identity_valid[..., None].to(offset.dtype)
            vectors = vectors + offset[:, :k]
        vectors = torch.cat([temb[:, None], vectors], dim=1)  # (B, 1 + K, D)
        seg = cond.segment.to(temb.device)
        index = torch.cat([torch.zeros(b, n_noisy, dtype=torch.long, device=temb.device),
                           torch.where(seg >= 0, seg + 1, 0)], dim=1)  # (B, L + M)
        return TokenModulation(vectors, index)

    def _to_velocity(self, out: torch.Tensor, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Network output (B, N, C) → flow velocity v = (x_σ − x̂₀) / σ, for x_σ = (1 − σ)·x₀ + σ·ε; s: (B, 1, 1)."""
        if self.config.prediction_type == "sample":  # out = x̂₀; σ floored to bound the implied v-loss weight
            return (x - out) / s.clamp_min(self.config.sigma_floor)
        # "preconditioned": x̂₀ = c_skip·x_σ + c_out·F with c_skip = (1 − σ)/D², c_out = σ/D, D² = (1 − σ)² + σ²
        # (Karras et al. 2022 preconditioning on the rectified-flow path, unit data variance): F has unit-variance
        # targets at every σ, the skip path carries x_σ exactly, and v = ((2σ − 1)/D²)·x_σ − F/D has no 1/σ.
        d2 = (1 - s) ** 2 + s**2
        return (2 * s - 1) / d2 * x - out / d2.sqrt()

    @apply_lora_scale("joint_attention_kwargs")
    def forward(
        self,
        hidden_states: torch.Tensor,  # (B, L + M, C) packed [noisy; conditions]; (B, L, C) when reading a cache
        encoder_hidden_states: torch.Tensor = None,  # (B, T, joint_attention_dim)
        pooled_projections: torch.Tensor = None,  # (B, pooled_projection_dim)
        timestep: torch.Tensor = None,  # (B,) in [0, 1]
        img_ids: torch.Tensor = None,  # (L + M, 3) or (B, L + M, 3); (·, L, 3) when reading a cache
        txt_ids: torch.Tensor = None,  # (T, 3) or (B, T, 3)
        guidance: torch.Tensor = None,  # (B,)
        joint_attention_kwargs: dict[str, Any] | None = None,
        controlnet_block_samples: list[torch.Tensor] | None = None,  # [(B, L, D)] residuals on the noisy tokens
        controlnet_single_block_samples: list[torch.Tensor] | None = None,
        return_dict: bool = True,
        controlnet_blocks_repeat: bool = False,
        conditioning: JointConditioning | None = None,
        guidance_scales: torch.Tensor | None = None,  # (B, 2) text and canvas scales of a guidance-distilled model
    ) -> torch.Tensor | Transformer2DModelOutput:
        cond = conditioning
        cache = cond.kv_cache if cond is not None else None
        reading = cache is not None and cache.filled
        if cache is not None and not cache.filled:
            self._check_cacheable(cond)
            cache.n_cond = cond.n_cond
        n_noisy = hidden_states.shape[1] - (0 if cond is None or reading else cond.n_cond)
        x_in, sigma = hidden_states, timestep  # kept for the sample → velocity conversion

        hidden_states = self.x_embedder(hidden_states)  # (B, N, D)
        timestep = timestep.to(hidden_states.dtype) * 1000
        if guidance is not None:
            guidance = guidance.to(hidden_states.dtype) * 1000
        temb = (self.time_text_embed(timestep, pooled_projections) if guidance is None
                else self.time_text_embed(timestep, guidance, pooled_projections))  # (B, D)
        if self.guidance_scale_embedder is not None:
            if guidance_scales is None:
                raise ValueError("this guidance-distilled model needs guidance_scales (B, 2): text and canvas scales")
            temb = temb + self.guidance_scale_embedder(guidance_scales.to(temb.device)).to(temb.dtype)
        elif guidance_scales is not None:
            raise ValueError("guidance_scales given, but the model is not guidance-distilled "
                             "(guidance_distilled=False)")
        encoder_hidden_states = self.context_embedder(encoder_hidden_states)  # (B, T, D)
        image_rotary_emb = rotary_tables(self.pos_embed, txt_ids, img_ids)

        token_mod = None
        attn_kwargs = dict(joint_attention_kwargs or {})
        if cond is not None:
            if not reading:
                token_mod = self._token_modulation(temb, pooled_projections, guidance, cond, n_noisy)
            if cond.attention_mask is not None:
                attn_kwargs["attention_mask"] = cond.attention_mask.to(hidden_states.device)
            if cond.dam:
                if self.config.dam_hidden_dim <= 0:
                    raise ValueError("dam=True but the model has no temperature generators (config dam_hidden_dim = 0)")
                attn_kwargs["dam"] = True

        blocks = [("double", i, b) for i, b in enumerate(self.transformer_blocks)]
        blocks += [("single", i, b) for i, b in enumerate(self.single_transformer_blocks)]
        control = {"double": _control_schedule(controlnet_block_samples, len(self.transformer_blocks),
                                               controlnet_blocks_repeat),
                   "single": _control_schedule(controlnet_single_block_samples, len(self.single_transformer_blocks))}
        for kind, i, block in blocks:
            kwargs = attn_kwargs if cache is None else {**attn_kwargs, "kv_cache": cache.view(f"{kind}.{i}")}
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                encoder_hidden_states, hidden_states = self._gradient_checkpointing_func(
                    block, hidden_states, encoder_hidden_states, temb, image_rotary_emb, kwargs, token_mod)
            else:
                encoder_hidden_states, hidden_states = block(
                    hidden_states=hidden_states, encoder_hidden_states=encoder_hidden_states, temb=temb,
                    image_rotary_emb=image_rotary_emb, joint_attention_kwargs=kwargs, token_mod=token_mod)
            if control[kind] is not None:  # ControlNet residual on the noisy tokens (conditions untouched)
                residual = control[kind](i)
                hidden_states = torch.cat([hidden_states[:, :n_noisy] + residual, hidden_states[:, n_noisy:]], 1)
        if cache is not None:
            cache.filled = True

        hidden_states = self.norm_out(hidden_states, temb)
        output = self.proj_out(hidden_states)  # (B, N, patch² · out_channels)
        if self.config.prediction_type != "flow":
            output = self._to_velocity(output, x_in.to(output.dtype), sigma.to(output.dtype).view(-1, 1, 1))
        if not return_dict:
            return (output,)
        return Transformer2DModelOutput(sample=output)

    @staticmethod
    def _check_cacheable(cond: JointConditioning) -> None:
        """Refuse to write a cache whose condition keys/values would depend on the step."""
        if not cond.timestep_free:
            raise ValueError("a condition KV cache needs timestep_free=True (condition modulation fixed across steps)")
        m = cond.attention_mask
        if m is None:
            raise ValueError("a condition KV cache needs a cacheable attention mask (MaskSpec(cacheable=True)); "
                             "got none (full attention)")
        n = cond.n_cond
        s = m.shape[-1]
        cond_rows = m[:, :, s - n :, : s - n]
        if cond_rows.any():
            raise ValueError("a condition KV cache needs condition tokens that see only condition tokens "
                             "(a MaskSpec with cacheable=True)")
