"""The latent space: diffusers' AutoencoderKL (real weights, or the small one learned on the studio world), or a
parameter-free pixel unshuffle.

`WORLD_AUTOENCODER` is the configuration of the learned world autoencoder: FLUX's VAE layout (8× down, 16
latent channels, KL-regularised) at a width a 2-core CPU decodes 256² in tens of milliseconds; it is trained by
the `autoencoder` training task (`configs/world-autoencoder.yaml`) and is a stock `AutoencoderKL`, so the
pipeline takes the real-VAE path with it.

`PixelUnshuffleAutoencoder` maps (B, 3, H, W) in [-1, 1] to (B, 3·f², H/f, W/f) by space-to-depth,
losslessly, with the same encode/decode interface as AutoencoderKL (`encode(x).latent_dist.sample()`,
`decode(z).sample`, `config.scaling_factor` / `config.shift_factor`). It trains fast on CPU because
the transformer does all the work. `latent_geometry(vae)` gives the (factor, channels) of either.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import DecoderOutput
from diffusers.models.modeling_outputs import AutoencoderKLOutput
from diffusers.models.modeling_utils import ModelMixin

# AutoencoderKL keyword arguments of the learned world autoencoder (scaling/shift factors are set at export)
WORLD_AUTOENCODER: dict = dict(
    in_channels=3, out_channels=3, latent_channels=16,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(16, 32, 64, 128),  # three downsamplings: 8×
    layers_per_block=1, norm_num_groups=4, mid_block_add_attention=False,  # 4+ channels per group: colour survives
)


def world_autoencoder_dir() -> Path:
    """The bundled learned world autoencoder: an AutoencoderKL folder (scripts/export_world_autoencoder.py)."""
    return Path(str(resources.files("layercraft") / "assets" / "models" / "world-autoencoder"))


def world_autoencoder(**overrides) -> AutoencoderKL:
    """A freshly initialised AutoencoderKL of the world layout (`WORLD_AUTOENCODER`, updated by `overrides`)."""
    return AutoencoderKL(**{**WORLD_AUTOENCODER, **overrides})


class PointLatent:
    """A latent 'distribution' with no spread: sample() and mode() are the encoding itself."""

    def __init__(self, latents: torch.Tensor):
        self.latents = latents

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.latents

    def mode(self) -> torch.Tensor:
        return self.latents


class PixelUnshuffleAutoencoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, in_channels: int = 3, factor: int = 4, scaling_factor: float = 2.0, shift_factor: float = 0.0):
        super().__init__()
        # a (saved) buffer gives the parameter-free model a device, a dtype and a weights file, as ModelMixin expects
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def latent_channels(self) -> int:
        return self.config.in_channels * self.config.factor**2

    def encode(self, x: torch.Tensor, return_dict: bool = True) -> AutoencoderKLOutput | tuple[PointLatent]:
        # x: (B, C, H, W) → (B, C·f², H/f, W/f)
        f = self.config.factor
        if x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"image {x.shape[-1]}×{x.shape[-2]} is not a multiple of the unshuffle factor {f}")
        dist = PointLatent(F.pixel_unshuffle(x, f))
        return AutoencoderKLOutput(latent_dist=dist) if return_dict else (dist,)

    def decode(self, z: torch.Tensor, return_dict: bool = True) -> DecoderOutput | tuple[torch.Tensor]:
        # z: (B, C·f², h, w) → (B, C, h·f, w·f)
        x = F.pixel_shuffle(z, self.config.factor)
        return DecoderOutput(sample=x) if return_dict else (x,)


def latent_geometry(vae: ModelMixin) -> tuple[int, int]:
    """(spatial downsampling factor, latent channels) of a PixelUnshuffleAutoencoder or AutoencoderKL, read from its
    config alone (so a stand-in that carries the config, as the encoding cache's does, answers the same)."""
    cfg = vae.config
    if "factor" in cfg:  # pixel unshuffle
        return cfg["factor"], cfg["in_channels"] * cfg["factor"] ** 2
    return 2 ** (len(cfg["block_out_channels"]) - 1), cfg["latent_channels"]


def to_latents(vae: ModelMixin, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """images (B, 3, H, W) in [-1, 1] → normalised latents (B, C, h, w): (z - shift) · scale."""
    z = vae.encode(images.to(vae.dtype)).latent_dist.mode()
    return (z - (vae.config.shift_factor or 0.0)) * vae.config.scaling_factor


def from_latents(vae: ModelMixin, latents: torch.Tensor) -> torch.Tensor:
    """Inverse of `to_latents`: (B, C, h, w) → images (B, 3, H, W) in about [-1, 1]."""
    z = latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
    return vae.decode(z.to(vae.dtype)).sample
