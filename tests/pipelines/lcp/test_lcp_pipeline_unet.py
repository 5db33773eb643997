import numpy as np
import torch

from layercraft.models.lcp.regulation import box_masks
from layercraft.models.unet import AttentionStore, LcpAdapter, LcpCallState
from layercraft.pipelines.lcp import LcpPipeline, canvas_subjects, find_subject_tokens
from lc_subjects import canvas, image_encoder, sd_components


def _adapter(u):
    return LcpAdapter.for_unet(u, image_dim=32, static_dim=32, num_queries=4, resampler_dim=32, resampler_heads=4,
                               grounding_dim=32, num_freqs=4, layout_hidden=32, refiner_grid=4)


def test_subjects_and_tokens_come_from_the_canvas():
    c = canvas()
    subs = canvas_subjects(c)
    assert [s.layer_id for s in subs] == ["dog", "cat"]
    x0, y0, x1, y1 = subs[0].box
    assert 0.05 < x0 < 0.15 and 0.1 < y0 < 0.2 and x1 < 0.5 and subs[0].mask.sum() > 50
    tok = sd_components()["tokenizer"]
    assert find_subject_tokens(tok, c.prompt, "dog") == [1]
    assert find_subject_tokens(tok, c.prompt, "cat") == [4]
    assert find_subject_tokens(tok, c.prompt, [7]) == [7]


def test_full_lcp_pipeline_runs_and_round_trips(tmp_path):
    comps = sd_components()
    pipe = LcpPipeline(**comps, image_encoder=image_encoder(), adapter=_adapter(comps["unet"]))
    pipe.set_progress_bar_config(disable=True)
    c = canvas()
    out = pipe(c.prompt, c, num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np",
               regulation_steps=1)
    assert out.images.shape == (1, 32, 32, 3) and np.isfinite(out.images).all()
    pipe.save_pretrained(tmp_path / "p")
    again = LcpPipeline.from_pretrained(tmp_path / "p")
    again.set_progress_bar_config(disable=True)
    out2 = again(c.prompt, c, num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np",
                 regulation_steps=1)
    np.testing.assert_allclose(out.images, out2.images, atol=1e-4)


def test_box_regulation_moves_attention_mass_into_the_box():
    comps = sd_components()
    pipe = LcpPipeline(**comps)  # no adapter: regulation works on any UNet
    pipe.set_progress_bar_config(disable=True)
    c = canvas()
    subs = canvas_subjects(c)
    boxes = torch.tensor([s.box for s in subs])
    index = pipe.subject_token_index(c.prompt, subs, None)
    text = torch.cat([comps["text_encoder"](comps["tokenizer"](c.prompt, padding="max_length",
                                                               return_tensors="pt").input_ids)[0]])

    def inside_fraction(lat):
        store = AttentionStore(index)
        with torch.no_grad():
            pipe.unet(lat, torch.tensor(900), encoder_hidden_states=text, cross_attention_kwargs={"lcp": LcpCallState(
                store=store)})
        fr = []
        for maps in store.maps.values():
            for m in maps:
                hw = int(m.shape[1] ** 0.5)
                mk = box_masks(boxes, (hw, hw)).flatten(1)
                fr.append(((m[0].T * mk).sum(-1) / m[0].T.sum(-1)).mean())
        return torch.stack(fr).mean().item()

    z0 = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    pipe.scheduler.set_timesteps(2)
    out = pipe(c.prompt, c, num_inference_steps=1, guidance_scale=1.0, latents=z0.clone(), output_type="latent",
               regulation=False)
    assert out.images.shape == (1, 4, 16, 16)

    from layercraft.models.lcp.regulation import box_loss, regulate

    def loss_fn(z):
        store = AttentionStore(index, keep_grad=True)
        pipe.unet(z, torch.tensor(900), encoder_hidden_states=text,
                  cross_attention_kwargs={"lcp": LcpCallState(store=store)})
        return box_loss(store.maps, boxes, scale_weight=0.0)

    moved = regulate(z0, loss_fn, alpha=1.0, eta=2e4, iterations=5)
    assert inside_fraction(moved) > inside_fraction(z0) + 0.01
