"""The `guidance_distill` task: the student's one-pass velocity is regressed onto the teacher's three-branch guided
velocity, recomputed here from three separate teacher calls."""

from dataclasses import replace

import torch
import torch.nn.functional as F

from layercraft.canvas import Canvas
from layercraft.denoise import velocity
from layercraft.pipelines.distilled import load_distilled_guidance
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from layercraft.training import TrainConfig, build_task, train
from layercraft.training.flow_matching import noisy_and_target, sample_sigmas

ARGS = {"teacher": "tiny-test", "size": 32, "recipes": {"layercomposer": 1.0}, "milestones": []}


def _task(**kw):
    return build_task(TrainConfig(task="guidance_distill", batch_size=2, seed=0, task_args={**ARGS, **kw}))


def _hand_target(task, batch, seed):
    (cb, (s_t, s_c)) = batch
    canvases = [Canvas(width=e.canvas.width, height=e.canvas.height) if d else e.canvas
                for e, d in zip(cb.examples, cb.drop_canvas, strict=True)]
    prompts = [e.prompt for e in cb.examples]
    t = task.teacher_pipe
    inputs = t.build_inputs(prompts, canvases, cb.scheme, task.args.switches, [""] * len(prompts))
    bare = t.build_inputs(prompts, [Canvas(width=c.width, height=c.height) for c in canvases], cb.scheme,
                          task.args.switches)
    g = torch.Generator().manual_seed(seed)
    x0 = task._targets(cb.examples)
    sigmas = sample_sigmas(task.cfg.flow, len(prompts), g)
    xt, _ = noisy_and_target(x0, sigmas, torch.randn(x0.shape, generator=g))
    with torch.no_grad():
        v_pos = velocity(task.teacher, inputs, xt, sigmas, inputs.conditioning())
        v_neg = velocity(task.teacher, inputs, xt, sigmas, inputs.conditioning(), (True,))
        v_bare = velocity(task.teacher, bare, xt, sigmas, bare.conditioning())
    return v_pos, v_pos + (s_t - 1) * (v_pos - v_neg) + (s_c - 1) * (v_pos - v_bare)


def test_distill_loss_regresses_the_fresh_student_onto_the_teachers_guided_velocity():
    task = _task(p_teacher=0.0, p_drop_canvas=0.0)
    batch = task.batch(3, 0, 2)
    (_, (s_t, s_c)) = batch
    assert 1.0 <= s_t <= 4.0 and 1.0 <= s_c <= 3.0 and (s_t, s_c) != (3.0, 2.0)
    assert task.batch(3, 0, 2)[1] == (s_t, s_c)  # a pure function of (step, rank)
    loss, logs = task.loss(task.model, batch, torch.Generator().manual_seed(5))
    v_pos, target = _hand_target(task, batch, 5)
    # the fresh student is the teacher's positive branch, so its loss is the guidance term's size
    torch.testing.assert_close(loss, F.mse_loss(v_pos, target), atol=1e-6, rtol=1e-4)
    assert loss > 1e-6 and logs["s_t"] == s_t
    assert [p for p in task.model.parameters() if p.requires_grad]
    assert not any(p.requires_grad for p in task.teacher.parameters())


def test_teacher_scales_are_drawn_with_their_probability():
    task = _task(p_teacher=0.5)
    draws = [task.scales(i, 0) for i in range(200)]
    share = sum(d == (3.0, 2.0) for d in draws) / len(draws)
    assert 0.35 < share < 0.65


def test_a_short_distillation_lowers_the_loss_and_exports_a_one_pass_pipeline(tmp_path):
    cfg = TrainConfig(task="guidance_distill", output_dir=tmp_path / "run", max_steps=20, batch_size=2, lr=3e-3,
                      checkpoint_every=20, task_args={**ARGS, "p_teacher": 1.0, "p_drop_canvas": 0.0})
    task = build_task(cfg)
    fixed = task.batch(0, 0, 2)
    with torch.no_grad():
        before = float(task.loss(task.model, fixed, torch.Generator().manual_seed(0))[0])
    train(cfg, task)
    with torch.no_grad():
        after = float(task.loss(task.model, fixed, torch.Generator().manual_seed(0))[0])
    assert after < 0.8 * before
    # the export is an adapter for the teacher: loaded (LoRA fused) it gives the trained student's velocity
    pipe = load_distilled_guidance(LayeredCanvasPipeline.from_spec("tiny-test"), tmp_path / "run" / "final")
    assert pipe.guidance_distilled and not task.teacher_pipe.guidance_distilled
    (cb, (s_t, s_c)) = fixed
    inputs = pipe.build_inputs([e.prompt for e in cb.examples], [e.canvas for e in cb.examples], cb.scheme,
                               task.args.switches)
    inputs = replace(inputs, guidance_scales=torch.tensor([[s_t, s_c]] * 2))
    sigma = torch.tensor([0.4, 0.8])
    x = torch.randn(2, inputs.n_noisy, inputs.cond_tokens.shape[-1], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = velocity(task.model.eval(), inputs, x, sigma, inputs.conditioning())
        got = velocity(pipe.transformer, inputs, x, sigma, inputs.conditioning())
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3)
