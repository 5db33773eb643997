import torch
from safetensors.torch import load_file

from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from layercraft.pipelines.lora import add_attention_lora, save_attention_lora
from lc_canvases import canvas


def _image(pipe):
    return pipe("a man", canvas(2), num_inference_steps=2, output_type="pt",
                generator=torch.Generator().manual_seed(0)).images


def test_lora_save_and_load_round_trip(tmp_path):
    pipe = LayeredCanvasPipeline.from_spec("tiny-test")
    pipe.set_progress_bar_config(disable=True)
    base = _image(pipe)
    torch.manual_seed(5)
    add_attention_lora(pipe.transformer, rank=4, init_lora_weights=False)  # random B: the adapter acts
    adapted = _image(pipe)
    assert not torch.allclose(base, adapted)
    save_attention_lora(pipe, tmp_path / "lora")
    keys = load_file(tmp_path / "lora" / "pytorch_lora_weights.safetensors").keys()
    assert keys and all(k.startswith("transformer.") for k in keys)
    assert any("single_transformer_blocks.0.attn.to_q.lora_A" in k for k in keys)
    assert any("transformer_blocks.0.attn.add_k_proj.lora_B" in k for k in keys)

    fresh = LayeredCanvasPipeline.from_spec("tiny-test")  # same seed → same base weights
    fresh.set_progress_bar_config(disable=True)
    torch.testing.assert_close(_image(fresh), base)
    fresh.load_lora_weights(tmp_path / "lora")
    torch.testing.assert_close(_image(fresh), adapted, atol=1e-5, rtol=1e-5)
