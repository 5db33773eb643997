import pytest
import torch
from diffusers import FluxTransformer2DModel
from lc_tiny import TINY, make_inputs

from layercraft.models.transformer import LayercraftFluxTransformer


@pytest.fixture
def stock():
    torch.manual_seed(0)
    return FluxTransformer2DModel(**TINY).eval()


@pytest.fixture
def tiny():
    """Ours with every extension module present (DAM, identity projector), weights random."""
    torch.manual_seed(0)
    return LayercraftFluxTransformer(**TINY, identity_embed_dim=8, dam_hidden_dim=8).eval()


@pytest.fixture
def inputs():
    return make_inputs()
