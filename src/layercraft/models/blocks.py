"""Flux blocks whose AdaLN modulation may differ per token.

Same submodules and parameter names as diffusers' blocks; only `forward` is overridden, adding a
`token_mod` argument. With `token_mod=None` the arithmetic is exactly the stock one.

The double-stream block also takes an optional `image_hook` in `joint_attention_kwargs` (removed before the
attention call): `image_hook(block, hidden_states) -> hidden_states` runs on the image stream right after the
attention residual, before the feed-forward (LCP grounding and static attention, feature capture).
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_flux import FluxSingleTransformerBlock, FluxTransformerBlock

from .modulation import TokenModulation


class LayercraftTransformerBlock(FluxTransformerBlock):
    """Double-stream block: text stream [T] and image stream [noisy; conditions]."""

    def forward(
        self,
        hidden_states: torch.Tensor,  # (B, N, D)
        encoder_hidden_states: torch.Tensor,  # (B, T, D)
        temb: torch.Tensor,  # (B, D)
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        joint_attention_kwargs: dict[str, Any] | None = None,
        token_mod: TokenModulation | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if token_mod is None:
            norm_hidden_states, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(hidden_states, emb=temb)
            gate_msa, shift_mlp, scale_mlp, gate_mlp = (t[:, None] for t in (gate_msa, shift_mlp, scale_mlp, gate_mlp))
        else:
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = token_mod.params(self.norm1.linear, 6)
            norm_hidden_states = self.norm1.norm(hidden_states) * (1 + scale_msa) + shift_msa  # (B, N, D)
        norm_encoder_hidden_states, c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(
            encoder_hidden_states, emb=temb
        )

        attn_kwargs = dict(joint_attention_kwargs or {})
        image_hook = attn_kwargs.pop("image_hook", None)
        attn_output, context_attn_output = self.attn(
            hidden_states=norm_hidden_states,
            encoder_hidden_states=norm_encoder_hidden_states,
            image_rotary_emb=image_rotary_emb,
            **attn_kwargs,
        )

        hidden_states = hidden_states + gate_msa * attn_output
        if image_hook is not None:
            hidden_states = image_hook(self, hidden_states)  # (B, N, D)
        norm_hidden_states = self.norm2(hidden_states) * (1 + scale_mlp) + shift_mlp
        hidden_states = hidden_states + gate_mlp * self.ff(norm_hidden_states)

        encoder_hidden_states = encoder_hidden_states + c_gate_msa.unsqueeze(1) * context_attn_output
        norm_encoder_hidden_states = self.norm2_context(encoder_hidden_states)
        norm_encoder_hidden_states = norm_encoder_hidden_states * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None]
        encoder_hidden_states = encoder_hidden_states + c_gate_mlp.unsqueeze(1) * self.ff_context(
            norm_encoder_hidden_states
        )
        if encoder_hidden_states.dtype == torch.float16:
            encoder_hidden_states = encoder_hidden_states.clip(-65504, 65504)
        return encoder_hidden_states, hidden_states


class LayercraftSingleTransformerBlock(FluxSingleTransformerBlock):
    """Single-stream block over [text; noisy; conditions]."""

    def forward(
        self,
        hidden_states: torch.Tensor,  # (B, N, D)
        encoder_hidden_states: torch.Tensor,  # (B, T, D)
        temb: torch.Tensor,  # (B, D)
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        joint_attention_kwargs: dict[str, Any] | None = None,
        token_mod: TokenModulation | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        text_seq_len = encoder_hidden_states.shape[1]
        hidden_states = torch.cat([encoder_hidden_states, hidden_states], dim=1)  # (B, T + N, D)
        residual = hidden_states
        if token_mod is None:
            norm_hidden_states, gate = self.norm(hidden_states, emb=temb)
            gate = gate.unsqueeze(1)
        else:
            shift, scale, gate = token_mod.with_prefix(text_seq_len).params(self.norm.linear, 3)
            norm_hidden_states = self.norm.norm(hidden_states) * (1 + scale) + shift
        mlp_hidden_states = self.act_mlp(self.proj_mlp(norm_hidden_states))
        attn_kwargs = {k: v for k, v in (joint_attention_kwargs or {}).items() if k != "image_hook"}
        attn_output = self.attn(hidden_states=norm_hidden_states, image_rotary_emb=image_rotary_emb, **attn_kwargs)

        hidden_states = torch.cat([attn_output, mlp_hidden_states], dim=2)
        hidden_states = residual + gate * self.proj_out(hidden_states)
        if hidden_states.dtype == torch.float16:
            hidden_states = hidden_states.clip(-65504, 65504)
        return hidden_states[:, :text_seq_len], hidden_states[:, text_seq_len:]


def _register_with_diffusers_hooks() -> None:
    """Our blocks return (encoder_hidden_states, hidden_states) exactly as FLUX's, so diffusers' block-level caches
    (`enable_cache(FirstBlockCacheConfig(...))`, …) may treat them as FLUX blocks."""
    from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry

    for block in (LayercraftTransformerBlock, LayercraftSingleTransformerBlock):
        TransformerBlockRegistry.register(model_class=block, metadata=TransformerBlockMetadata(
            return_hidden_states_index=1, return_encoder_hidden_states_index=0))


_register_with_diffusers_hooks()
