"""The `canvas` training task: its loss is the flow-matching MSE of the inference velocity, on the inputs the
pipeline builds, with gradients on exactly the trained parameters."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layercraft.canvas import Canvas
from layercraft.conditioning import pack
from layercraft.denoise import Branch, GuidedVelocity, Switches
from layercraft.denoise.flow import noisy, velocity_target
from layercraft.models.autoencoder import to_latents
from layercraft.training import TrainConfig, build_task, train
from layercraft.training.flow_matching import sample_sigmas
from lc_spy import CallSpy

L = 64  # 32×32 px → 8×8 tokens


def _task(batch_size=2, seed=0, **task_args):
    args = {"model": "tiny-test", "size": 32, **task_args}
    return build_task(TrainConfig(task="canvas", batch_size=batch_size, seed=seed, task_args=args))


def _hand_loss(task, batch, seed):
    """The loss recomputed from its definition: the inference velocity (the pipeline's one-branch guided velocity)
    at x_σ = (1 − σ)·x₀ + σ·ε against the flow target ε − x₀, on the inputs the pipeline builds for the
    (dropout-applied) canvases and prompts."""
    g = torch.Generator().manual_seed(seed)
    canvases = [Canvas(width=e.canvas.width, height=e.canvas.height) if d else e.canvas
                for e, d in zip(batch.examples, batch.drop_canvas, strict=True)]
    prompts = ["" if d else e.prompt for e, d in zip(batch.examples, batch.drop_text, strict=True)]
    inputs = task.pipe.build_inputs(prompts, canvases, batch.scheme, task.args.switches)
    images = torch.stack([torch.from_numpy(e.target).permute(2, 0, 1).float() / 127.5 - 1 for e in batch.examples])
    x0 = torch.stack([pack(z.float()) for z in to_latents(task.pipe.vae, images)])  # (B, L, C·4)
    sigmas = sample_sigmas(task.cfg.flow, len(batch.examples), g)
    noise = torch.randn(x0.shape, generator=g)
    pred = GuidedVelocity([Branch(inputs)])(task.model, noisy(x0, sigmas, noise), sigmas)
    return F.mse_loss(pred, velocity_target(x0, noise)), inputs


@pytest.mark.parametrize("recipe", ["layercomposer", "one_for_all", "anyphoto"])
def test_canvas_loss_is_the_flow_matching_mse_of_the_inference_velocity(recipe):
    task = _task(batch_size=3, recipes={recipe: 1.0}, p_drop_canvas=0.5)
    batch = task.batch(0, 0, 3)
    assert batch.scheme == recipe and len(batch.examples) == 3
    assert [e.prompt for e in task.batch(0, 0, 3).examples] == [e.prompt for e in batch.examples]  # deterministic
    batch.drop_canvas, batch.drop_text = [False, True, False], [True, False, False]  # both dropouts in one batch
    loss, logs = task.loss(task.model, batch, torch.Generator().manual_seed(0))
    expected, inputs = _hand_loss(task, batch, 0)
    torch.testing.assert_close(loss, expected, atol=0.0, rtol=1e-6)  # the same operations: equal
    assert logs["cond_tokens"] == inputs.cond_tokens.shape[1] > 0
    # not a tautology of shapes: another seed (other σ and ε) gives another loss
    assert not torch.isclose(loss, task.loss(task.model, batch, torch.Generator().manual_seed(1))[0])


def test_the_transformer_sees_the_same_conditioning_in_training_as_in_the_pipeline():
    task = _task(batch_size=1, recipes={"anyphoto": 1.0}, p_drop_canvas=0.0, p_drop_text=0.0)
    batch = task.batch(0, 0, 1)
    e = batch.examples[0]
    with CallSpy(task.model) as train_spy:
        task.loss(task.model, batch, torch.Generator().manual_seed(0))
    with CallSpy(task.model) as infer_spy:
        task.pipe(prompt=e.prompt, canvas=e.canvas, scheme=batch.scheme, num_inference_steps=1, output_type="latent")
    (t,), (i,) = train_spy.calls, infer_spy.calls
    for key in ("encoder_hidden_states", "pooled_projections", "img_ids", "txt_ids"):
        torch.testing.assert_close(t[key], i[key], msg=key)
    torch.testing.assert_close(t["hidden_states"][:, L:], i["hidden_states"][:, L:])  # the same condition tokens
    tc, ic = t["conditioning"], i["conditioning"]
    assert torch.equal(tc.segment, ic.segment) and tc.dam == ic.dam and tc.timestep_free == ic.timestep_free
    assert tc.attention_mask is not None and torch.equal(tc.attention_mask, ic.attention_mask)  # AnyPhoto isolation


def _grads(module):
    return {n for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def _frozen_encoders_untouched(task):
    for name in ("text_encoder", "text_encoder_2", "vae"):
        module = getattr(task.pipe, name, None)
        if module is not None:
            assert not any(p.requires_grad or p.grad is not None for p in module.parameters()), name


def test_full_training_reaches_every_transformer_weight_in_the_graph_and_no_encoder():
    task = _task(p_drop_canvas=0.0)
    named = dict(task.model.named_parameters())
    # DAM temperature generators and the identity projector are switched off: frozen (DDP waits for no gradient
    # they never get) and not in the graph
    off = {n for n in named if ".temperature." in n or n.startswith("identity_projector.")}
    assert off and {id(p) for p in task.trainable_parameters()} == {id(named[n]) for n in set(named) - off}
    loss, _ = task.loss(task.model, task.batch(0, 0, 2), torch.Generator().manual_seed(0))
    loss.backward()
    assert _grads(task.model) == set(named) - off
    _frozen_encoders_untouched(task)


def test_lora_training_reaches_only_the_adapters():
    task = _task(lora_rank=4, p_drop_canvas=0.0)
    trainable = {n for n, p in task.model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} >= {"to_q", "to_k", "to_v"}
    assert {id(p) for p in task.trainable_parameters()} == {id(p) for n, p in task.model.named_parameters()
                                                             if n in trainable}
    loss, _ = task.loss(task.model, task.batch(0, 0, 2), torch.Generator().manual_seed(0))
    loss.backward()
    assert all(p.grad is None for n, p in task.model.named_parameters() if n not in trainable)  # base weights
    # B starts at zero (the adapter starts as the identity), so at step 0 exactly the B matrices move
    assert _grads(task.model) == {n for n in trainable if ".lora_B." in n}
    _frozen_encoders_untouched(task)


def test_canvas_dropout_gives_inputs_without_condition_tokens_and_text_dropout_an_empty_prompt():
    task = _task(p_drop_canvas=0.0, p_drop_text=0.0)
    batch = task.batch(1, 0, 2)
    empty, _ = task.pipe.encode_text([""])
    batch.drop_canvas, batch.drop_text = [True, True], [False, True]
    with CallSpy(task.model) as spy:
        _, logs = task.loss(task.model, batch, torch.Generator().manual_seed(0))
    (call,) = spy.calls
    assert logs["cond_tokens"] == 0 and call["hidden_states"].shape[1] == L  # noisy tokens only
    assert call["conditioning"].n_cond == 0
    prompt, _ = task.pipe.encode_text([batch.examples[0].prompt])
    torch.testing.assert_close(call["encoder_hidden_states"][0], prompt[0])
    torch.testing.assert_close(call["encoder_hidden_states"][1], empty[0])
    # one canvas dropped, one kept: the dropped sample's condition slots are padding, masked from every query
    batch.drop_canvas, batch.drop_text = [True, False], [False, False]
    with CallSpy(task.model) as spy:
        task.loss(task.model, batch, torch.Generator().manual_seed(0))
    (call,) = spy.calls
    c = call["conditioning"]
    t = call["encoder_hidden_states"].shape[1]
    assert c.n_cond > 0 and (c.segment[0] == -1).all() and (c.segment[1] >= 0).any()
    assert not c.attention_mask[0, 0, : t + L, t + L :].any()
    # and the batch draws dropout at the configured rates
    assert all(_task(p_drop_canvas=1.0).batch(0, 0, 4).drop_canvas)
    assert not any(_task(p_drop_canvas=0.0).batch(0, 0, 4).drop_canvas)


def test_text_to_image_stage_keeps_to_the_asked_people_count_in_batches_and_sample_sheets():
    cfg = TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "recipes": {"text_to_image": 1.0},
                                                "t2i_people": 1, "p_drop_canvas": 1.0}, batch_size=4)
    task = build_task(cfg)
    for examples in (task.batch(0, 0, 4).examples, task.validation_examples(4)):
        assert [len(e.meta["people"]) for e in examples] == [1, 1, 1, 1]
        assert all(not e.canvas.all_layers() for e in examples)


def test_short_canvas_run_samples_and_exports_a_loadable_pipeline(tmp_path):
    from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline

    cfg = TrainConfig(task="canvas", output_dir=tmp_path / "run", max_steps=2, batch_size=2, sample_every=2,
                      checkpoint_every=2, task_args={"model": "tiny-test", "size": 32, "sample_steps": 2})
    train(cfg)
    sheet = tmp_path / "run" / "samples" / "step000002.png"
    assert sheet.exists()
    pipe = LayeredCanvasPipeline.from_pretrained(tmp_path / "run" / "final")
    assert pipe.transformer.config.num_layers == 1
    assert np.asarray(__import__("PIL.Image").Image.open(sheet)).shape[1] == 3 * 32


def test_identity_loss_and_modulation_reach_the_gradient():
    from layercraft.models.modulation import IdentityProjector

    cfg = TrainConfig(task="canvas", batch_size=2, task_args={
        "model": "tiny-test", "size": 32, "recipes": {"anyphoto": 1.0}, "p_drop_canvas": 0.0, "p_drop_text": 0.0,
        "p_drop_identity": 0.0, "switches": {"modulation": True}, "identity_loss_weight": 1.0,
        "identity_loss_max_sigma": 1.0,
        "min_visible": 0.0})
    task = build_task(cfg)
    dim = task.model.inner_dim
    task.model.identity_projector = IdentityProjector(128, dim)  # the world encoder's 128-d embeddings
    torch.nn.init.normal_(task.model.identity_projector.fc2.weight, std=0.1)
    torch.nn.init.normal_(task.model.proj_out.weight, std=0.2)
    loss, logs = task.loss(task.model, task.batch(0, 0, 2), torch.Generator().manual_seed(0))
    assert "id_loss" in logs and 0.0 <= logs["id_loss"] <= 2.0
    loss.backward()
    assert task.model.identity_projector.fc1.weight.grad.abs().sum() > 0  # modulation is in the graph


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = TrainConfig(task="canvas", batch_size=2, task_args={"model": "tiny-test", "size": 32})
    task = build_task(cfg)
    torch.nn.init.normal_(task.model.proj_out.weight, std=0.2)
    batch = task.batch(2, 0, 2)
    grads = []
    for ckpt in (False, True):
        task.model.zero_grad()
        if ckpt:
            task.model.enable_gradient_checkpointing()
        loss, _ = task.loss(task.model, batch, torch.Generator().manual_seed(0))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in task.trainable_parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_lora_run_exports_diffusers_lora_with_model_card(tmp_path):
    from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline

    cfg = TrainConfig(task="canvas", output_dir=tmp_path / "run", max_steps=1, batch_size=1, checkpoint_every=1,
                      task_args={"model": "tiny-test", "size": 32, "lora_rank": 4})
    train(cfg)
    out = tmp_path / "run" / "final"
    assert (out / "pytorch_lora_weights.safetensors").exists()
    assert "rank 4" in (out / "README.md").read_text()
    pipe = LayeredCanvasPipeline.from_spec("tiny-test")
    pipe.load_lora_weights(str(out))


def test_init_weights_warm_starts_the_transformer(tmp_path):
    from safetensors.torch import save_file

    task = build_task(TrainConfig(task="canvas", seed=1, task_args={"model": "tiny-test", "size": 32}))
    state = {k: v.to(torch.bfloat16) for k, v in task.model.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    warm = build_task(TrainConfig(task="canvas", seed=2, task_args={
        "model": "tiny-test", "size": 32, "init_weights": str(tmp_path / "w.safetensors")}))
    fresh = build_task(TrainConfig(task="canvas", seed=2, task_args={"model": "tiny-test", "size": 32}))
    w = warm.model.state_dict()
    assert all(torch.equal(w[k], state[k].float()) for k in state)
    assert not all(torch.equal(fresh.model.state_dict()[k], w[k]) for k in w)


def test_ccpa_and_dam_switches_reach_the_transformer_and_the_gradient():
    def run(**switches):
        task = _task(seed=3, recipes={"one_for_all": 1.0}, p_drop_canvas=0.0, p_drop_text=0.0, switches=switches)
        batch = task.batch(0, 0, 2)
        with CallSpy(task.model) as spy:
            loss, _ = task.loss(task.model, batch, torch.Generator().manual_seed(0))
        loss.backward()
        temps = {n for n, _ in task.model.named_parameters() if ".temperature." in n}
        n_desc = [sum(1 for p in plans if p.descriptor) for plans in
                  task.pipe.build_inputs([""] * 2, [e.canvas for e in batch.examples], "one_for_all",
                                         Switches()).conds.plans]
        return spy.calls[0], temps, _grads(task.model) & temps, n_desc

    t = 8  # tiny-test's max_sequence_length
    plain, _, plain_dam, _ = run(ccpa=False)
    ccpa, temps, ccpa_dam, n_desc = run(ccpa=True, ccpa_tokens=4)
    _, _, dam, _ = run(ccpa=True, ccpa_tokens=4, dam=True)
    assert plain["encoder_hidden_states"].shape[1] == t
    assert max(n_desc) > 0 and ccpa["encoder_hidden_states"].shape[1] == t + 4 * max(n_desc)  # descriptor tokens
    assert ccpa["txt_ids"].shape == (2, t + 4 * max(n_desc), 3) and (ccpa["txt_ids"][:, t:, 0] == 1).any()
    assert not plain["conditioning"].dam and not ccpa_dam and not plain_dam
    # DAM on: the temperature generators are trained; their last layer starts at zero weight (temperature 1), so
    # at step 0 exactly that layer moves, in every block
    assert dam == {n for n in temps if ".fc2." in n} and {n.split(".attn")[0] for n in dam} == {
        "transformer_blocks.0", "single_transformer_blocks.0"}


def test_text_to_image_people_count_must_be_positive():
    from pydantic import ValidationError

    from layercraft.training.tasks.canvas import CanvasTaskArgs

    with pytest.raises(ValidationError, match="t2i_people"):
        CanvasTaskArgs(recipes={"text_to_image": 1.0}, t2i_people=0)
