"""Models: the Flux transformer with layercraft's extensions, text encoders, latent spaces, named configs."""

from .attention import ConditionKVCache, LayercraftAttnProcessor, TemperatureGenerator
from .autoencoder import PixelUnshuffleAutoencoder, latent_geometry
from .modulation import IdentityProjector, TokenModulation
from .registry import REGISTRY, ModelSpec, get_spec
from .transformer import JointConditioning, LayercraftFluxTransformer

__all__ = [
    "REGISTRY", "ConditionKVCache", "IdentityProjector", "JointConditioning", "LayercraftAttnProcessor",
    "LayercraftFluxTransformer", "ModelSpec", "PixelUnshuffleAutoencoder", "TemperatureGenerator", "TokenModulation",
    "get_spec", "latent_geometry",
]
