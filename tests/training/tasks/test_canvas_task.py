import numpy as np
import pytest
import torch

from layercraft.training import TrainConfig, build_task, train


@pytest.mark.parametrize("recipe", ["layercomposer", "one_for_all", "anyphoto"])
def test_canvas_task_builds_pipeline_inputs_and_backpropagates(recipe):
    cfg = TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "recipes": {recipe: 1.0},
                                                "p_drop_canvas": 0.5}, batch_size=3)
    task = build_task(cfg)
    batch = task.batch(0, 0, 3)
    assert batch.scheme == recipe and len(batch.examples) == 3
    again = task.batch(0, 0, 3)
    assert [e.prompt for e in again.examples] == [e.prompt for e in batch.examples]
    loss, logs = task.loss(task.model, batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in task.trainable_parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_text_to_image_stage_keeps_to_the_asked_people_count_in_batches_and_sample_sheets():
    cfg = TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "recipes": {"text_to_image": 1.0},
                                                "t2i_people": 1, "p_drop_canvas": 1.0}, batch_size=4)
    task = build_task(cfg)
    for examples in (task.batch(0, 0, 4).examples, task.validation_examples(4)):
        assert [len(e.meta["people"]) for e in examples] == [1, 1, 1, 1]
        assert all(not e.canvas.all_layers() for e in examples)


def test_condition_tokens_change_the_prediction():
    cfg = TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, "p_drop_canvas": 0.0,
                                                "p_drop_text": 0.0}, batch_size=2)
    task = build_task(cfg)
    torch.nn.init.normal_(task.model.proj_out.weight, std=0.2)  # stock init is zero: make the output depend on input
    batch = task.batch(1, 0, 2)
    a, _ = task.loss(task.model, batch, torch.Generator().manual_seed(0))
    batch.drop_canvas = [True, True]
    b, _ = task.loss(task.model, batch, torch.Generator().manual_seed(0))
    assert not torch.isclose(a, b)


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


def test_ccpa_and_dam_switches_reach_training():
    def loss_with(**kw):
        cfg = TrainConfig(task="canvas", batch_size=2, seed=3, task_args={
            "model": "tiny-test", "size": 32, "recipes": {"one_for_all": 1.0}, "p_drop_canvas": 0.0,
            "p_drop_text": 0.0, "switches": kw})
        task = build_task(cfg)
        torch.nn.init.normal_(task.model.proj_out.weight, std=0.2)
        for m in task.model.modules():
            if type(m).__name__ == "TemperatureGenerator":
                for p in m.parameters():
                    torch.nn.init.normal_(p, std=0.5)
        loss, _ = task.loss(task.model, task.batch(0, 0, 2), torch.Generator().manual_seed(0))
        return task, loss

    _, plain = loss_with(ccpa=False)
    _, ccpa = loss_with(ccpa=True)
    task, dam = loss_with(ccpa=True, dam=True)
    assert not torch.isclose(plain, ccpa) and not torch.isclose(ccpa, dam)
    dam.backward()
    temps = [p.grad for m in task.model.modules() if type(m).__name__ == "TemperatureGenerator"
             for p in m.parameters()]
    assert temps and any(g is not None and g.abs().sum() > 0 for g in temps)  # DAM is trained


def test_text_to_image_people_count_must_be_positive():
    from pydantic import ValidationError

    from layercraft.training.tasks.canvas import CanvasTaskArgs

    with pytest.raises(ValidationError, match="t2i_people"):
        CanvasTaskArgs(recipes={"text_to_image": 1.0}, t2i_people=0)
