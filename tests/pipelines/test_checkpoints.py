"""Loading and saving checkpoints as diffusers users do: dtype keywords, hub ids from the local cache, stock
loaders reading our saves, extension modules on stock weights."""

import json

import pytest
import torch
from diffusers import DiffusionPipeline, FluxKontextPipeline, FluxTransformer2DModel
from lc_kontext import stock_components

from layercraft.models.transformer import LayercraftFluxTransformer
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from lc_canvases import canvas


@pytest.fixture(scope="module")
def kontext_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kontext") / "snapshot"
    FluxKontextPipeline(**stock_components(), image_encoder=None, feature_extractor=None).save_pretrained(folder)
    return folder


def _image(pipe, steps=1):
    pipe.set_progress_bar_config(disable=True)
    return pipe("a man in a park", canvas(2, locked=(0,)), scheme="kontext_collage", num_inference_steps=steps,
                output_type="pt", generator=torch.Generator().manual_seed(0)).images


def test_dtype_keyword_and_per_component_dtypes(kontext_dir):
    pipe = LayeredCanvasPipeline.from_pretrained(kontext_dir, dtype=torch.bfloat16, max_sequence_length=8)
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.vae.dtype == torch.bfloat16
    assert pipe.text_encoder_2.dtype == torch.bfloat16
    mixed = LayeredCanvasPipeline.from_pretrained(
        kontext_dir, torch_dtype={"transformer": torch.bfloat16, "default": torch.float32}, max_sequence_length=8)
    assert mixed.transformer.dtype == torch.bfloat16 and isinstance(mixed.transformer, LayercraftFluxTransformer)
    assert mixed.vae.dtype == torch.float32 and mixed.text_encoder.dtype == torch.float32
    with pytest.raises(ValueError, match="not both"):
        LayeredCanvasPipeline.from_pretrained(kontext_dir, dtype=torch.float32, torch_dtype=torch.float32)


def test_own_save_reloads_every_component_in_the_asked_dtype(tmp_path):
    LayeredCanvasPipeline.from_spec("tiny-test").save_pretrained(tmp_path / "own")
    pipe = LayeredCanvasPipeline.from_pretrained(tmp_path / "own", torch_dtype=torch.bfloat16)
    dtypes = {name: module.dtype for name, module in pipe.components.items() if isinstance(module, torch.nn.Module)}
    assert set(dtypes.values()) == {torch.bfloat16}, dtypes


def test_a_hub_id_resolves_from_the_local_cache_offline(kontext_dir, tmp_path):
    import shutil

    repo = tmp_path / "hub" / "models--acme--kontext-tiny"
    shutil.copytree(kontext_dir, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    pipe = LayeredCanvasPipeline.from_pretrained("acme/kontext-tiny", cache_dir=tmp_path / "hub",
                                                 local_files_only=True, max_sequence_length=8)
    assert isinstance(pipe.transformer, LayercraftFluxTransformer)
    local = LayeredCanvasPipeline.from_pretrained(kontext_dir, max_sequence_length=8)
    torch.testing.assert_close(_image(pipe), _image(local), atol=0, rtol=0)
    with pytest.raises(FileNotFoundError, match="acme/missing"):
        LayeredCanvasPipeline.from_pretrained("acme/missing", cache_dir=tmp_path / "hub", local_files_only=True)


def test_stock_diffusers_reads_our_save_and_the_transformer_keeps_its_stock_class(kontext_dir, tmp_path):
    ours = LayeredCanvasPipeline.from_pretrained(kontext_dir, max_sequence_length=8)
    ours.save_pretrained(tmp_path / "saved")
    index = json.loads((tmp_path / "saved" / "model_index.json").read_text())
    assert index["transformer"] == ["diffusers", "FluxTransformer2DModel"]
    stock = DiffusionPipeline.from_pretrained(tmp_path / "saved")
    assert isinstance(stock, FluxKontextPipeline) and type(stock.transformer) is FluxTransformer2DModel
    back = LayeredCanvasPipeline.from_pretrained(tmp_path / "saved")
    assert type(back) is LayeredCanvasPipeline and isinstance(back.transformer, LayercraftFluxTransformer)
    assert back.config.max_sequence_length == 8
    torch.testing.assert_close(_image(back), _image(ours), atol=0, rtol=0)


@pytest.mark.parametrize("low_cpu_mem_usage", [True, False])
def test_extension_modules_on_stock_weights_start_as_identity(kontext_dir, low_cpu_mem_usage):
    stock = FluxTransformer2DModel.from_pretrained(kontext_dir, subfolder="transformer")
    ours = LayercraftFluxTransformer.from_pretrained(kontext_dir, subfolder="transformer", identity_embed_dim=8,
                                                     dam_hidden_dim=4, low_cpu_mem_usage=low_cpu_mem_usage)
    assert not any(p.is_meta for p in ours.parameters())
    assert ours.identity_projector.fc2.weight.abs().sum() == 0
    x = torch.randn(1, 16, 16)
    temps = ours.transformer_blocks[0].attn.temperature(torch.randn(1, 4, 32))
    torch.testing.assert_close(temps, torch.ones_like(temps))
    kw = dict(hidden_states=x, encoder_hidden_states=torch.randn(1, 3, 32), pooled_projections=torch.randn(1, 24),
              timestep=torch.tensor([0.5]), img_ids=torch.zeros(16, 3), txt_ids=torch.zeros(3, 3),
              guidance=torch.tensor([3.5]))
    with torch.no_grad():
        torch.testing.assert_close(ours(**kw).sample, stock(**kw).sample, atol=1e-6, rtol=1e-6)


def test_device_map_reaches_the_transformer(kontext_dir):
    pipe = LayeredCanvasPipeline.from_pretrained(kontext_dir, device_map="cpu", max_sequence_length=8)
    assert isinstance(pipe.transformer, LayercraftFluxTransformer) and pipe.transformer.device.type == "cpu"
    assert getattr(pipe.transformer, "hf_device_map", None) is not None  # placed by the loader, not moved after
