"""Named model configurations and how to build their components.

- `tiny-test`: random weights, seconds on CPU, for tests.
- `embedded-small`: the CPU-trainable default: 128×128 px, pixel-unshuffle 4 → 48×32×32 latent →
  16×16 = 256 packed tokens of 192 channels; transformer width 256 (4 heads × 64), 2 double + 6 single
  blocks; MiniLM text encoder (384-d tokens and pooled vector).
- `embedded-v2`: the embedded architecture on the learned world autoencoder (8× down, 16 channels, the bundled
  `assets/models/world-autoencoder/`): 256×256 px → 16×32×32 latent → the same 16×16 = 256 packed tokens, of 64
  channels; everything else as `embedded-small`.
- `flux1-kontext-dev`: a local FLUX.1-Kontext-dev diffusers directory (weights loaded from disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from diffusers import AutoencoderKL

from .autoencoder import PixelUnshuffleAutoencoder, world_autoencoder_dir
from .text import load_minilm, tiny_flux_text_encoders, tiny_single_text_encoder
from .transformer import LayercraftFluxTransformer

TextKind = Literal["minilm", "tiny-bert", "tiny-flux", "pretrained"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    resolution: int  # default canvas side in pixels
    text: TextKind
    transformer: dict[str, Any] = field(default_factory=dict)  # LayercraftFluxTransformer config
    vae: dict[str, Any] | None = None  # PixelUnshuffleAutoencoder config; None: from the pretrained directory
    learned_vae: bool = False  # the bundled learned world autoencoder instead of a pixel unshuffle
    max_sequence_length: int = 64
    pretrained: bool = False  # components come from a local diffusers directory

    def components(self, seed: int = 0) -> dict[str, Any]:
        """Freshly initialised components (random transformer) for a non-pretrained spec."""
        if self.pretrained:
            raise ValueError(f"model {self.name!r} loads from a local directory: use "
                             "LayeredCanvasPipeline.from_pretrained(path) (see docs/pipeline/real-weights.md)")
        if self.text == "minilm":
            tokenizer, encoder = load_minilm()
            text = {"tokenizer": tokenizer, "text_encoder": encoder, "tokenizer_2": None, "text_encoder_2": None}
        elif self.text == "tiny-bert":
            text = tiny_single_text_encoder(self.transformer["joint_attention_dim"], seed)
        else:
            text = tiny_flux_text_encoders(self.transformer["joint_attention_dim"],
                                           self.transformer["pooled_projection_dim"], seed)
        torch.manual_seed(seed)
        if self.learned_vae:
            folder = world_autoencoder_dir()
            if not (folder / "config.json").is_file():
                raise FileNotFoundError(f"the learned world autoencoder is not in this checkout ({folder}); train it "
                                        "with `layercraft train configs/world-autoencoder.yaml`")
            vae = AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32)
        else:
            vae = PixelUnshuffleAutoencoder(**(self.vae or {}))
        return {"transformer": LayercraftFluxTransformer(**self.transformer), "vae": vae, **text}


REGISTRY: dict[str, ModelSpec] = {
    "tiny-test": ModelSpec(
        name="tiny-test", resolution=32, text="tiny-bert", max_sequence_length=8,
        transformer=dict(in_channels=48, num_layers=1, num_single_layers=1, attention_head_dim=16,
                         num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
                         axes_dims_rope=(4, 6, 6), identity_embed_dim=8, dam_hidden_dim=8),
        vae=dict(factor=2, scaling_factor=2.0),
    ),
    "embedded-small": ModelSpec(
        name="embedded-small", resolution=128, text="minilm", max_sequence_length=32,
        transformer=dict(in_channels=192, num_layers=2, num_single_layers=6, attention_head_dim=64,
                         num_attention_heads=4, joint_attention_dim=384, pooled_projection_dim=384,
                         axes_dims_rope=(8, 28, 28), identity_embed_dim=128, dam_hidden_dim=32,
                         prediction_type="preconditioned"),
        vae=dict(factor=4, scaling_factor=2.0),
    ),
    "embedded-v2": ModelSpec(
        name="embedded-v2", resolution=256, text="minilm", max_sequence_length=32, learned_vae=True,
        transformer=dict(in_channels=64, num_layers=2, num_single_layers=6, attention_head_dim=64,
                         num_attention_heads=4, joint_attention_dim=384, pooled_projection_dim=384,
                         axes_dims_rope=(8, 28, 28), identity_embed_dim=128, dam_hidden_dim=32,
                         prediction_type="preconditioned"),
    ),
    "flux1-kontext-dev": ModelSpec(name="flux1-kontext-dev", resolution=1024, text="pretrained",
                                   max_sequence_length=512, pretrained=True),
}


def get_spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose from {sorted(REGISTRY)}")
    return REGISTRY[name]
