"""The `guidance_distill` stage: one pass per step instead of three.

A guided step of the embedded default runs the transformer on three branches — (canvas, prompt), (canvas,
empty prompt) for text CFG and (empty canvas, prompt) for canvas CFG — and combines them
(`denoise.guidance`). The student is the teacher's transformer with one more input, the two guidance scales
(`GuidanceScaleEmbedder`, FLUX-dev style; its output layer starts at zero, so the student starts as the teacher's
positive branch), and a LoRA of `lora_rank` on its attention and feed-forward projections; only those two are
trained (as LCM-LoRA distils steps into an adapter), to match the teacher's guided velocity in one call:

    L = ‖v_student(x_σ, σ, canvas, prompt, s_t, s_c) − [v₊ + (s_t − 1)(v₊ − v_text) + (s_c − 1)(v₊ − v_canvas)]‖²

at points x_σ of the flow path from the recipes' training examples, with (s_t, s_c) drawn per micro-batch (half
of them at the teacher's own settings). Examples, encoders and schemes are the `canvas` task's. The export is an
adapter folder for `pipelines.distilled.load_distilled_guidance`: the teacher stays the one embedded model.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig
from pydantic import Field

from ...canvas import Canvas
from ...denoise import build_inputs, velocity
from ...denoise.guidance import GuidedVelocity, guidance_branches
from ..config import TrainConfig
from ..flow_matching import noisy_and_target, sample_sigmas
from ..task import step_seed
from .canvas import CanvasBatch, CanvasFlowTask, CanvasTaskArgs


class GuidanceDistillArgs(CanvasTaskArgs):
    teacher: str = "default"  # `load_pipeline` name or a saved pipeline folder
    text_scale: tuple[float, float] = (1.0, 4.0)  # range of true CFG scales drawn
    canvas_scale: tuple[float, float] = (1.0, 3.0)  # range of canvas CFG scales drawn
    teacher_scales: tuple[float, float] = (3.0, 2.0)  # the teacher's settings, drawn with probability p_teacher
    p_teacher: float = Field(0.5, ge=0.0, le=1.0)
    p_drop_canvas: float = 0.05
    p_drop_text: float = 0.0
    lora_rank: int = Field(32, ge=1)
    # sampling settings written into the adapter's card (`recommended_settings`); None: the teacher's own
    generation: dict | None = None
    lora_targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj",
                                     "to_add_out", "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj",
                                     "ff_context.net.2", "proj_mlp")


class GuidanceDistillTask(CanvasFlowTask):
    """Distils the teacher's three-branch guided velocity into a one-pass student (see the module docstring)."""

    def __init__(self, cfg: TrainConfig):
        from ...pipelines.loading import load_pipeline

        args = GuidanceDistillArgs(**cfg.task_args)
        if args.init_from is not None or args.init_weights is not None:
            raise ValueError("guidance_distill starts from its teacher: give teacher:, not init_from / init_weights")
        self.teacher_pipe = load_pipeline(args.teacher)
        teacher = self.teacher_pipe.transformer
        if getattr(teacher.config, "guidance_distilled", False):
            raise ValueError(f"teacher {args.teacher!r} is already guidance-distilled")
        # the canvas task's set-up (examples, encoders, schemes) on the teacher's own components
        canvas_args = {k: v for k, v in cfg.task_args.items()
                       if k in CanvasTaskArgs.model_fields and k not in ("lora_rank", "lora_alpha")}
        super().__init__(cfg.model_copy(update={"task_args": canvas_args}), pipe=self.teacher_pipe)
        self.args = args
        student = copy.deepcopy(teacher)
        student.enable_distilled_guidance()
        student.requires_grad_(False)
        alpha = args.lora_rank if args.lora_alpha is None else args.lora_alpha
        student.add_adapter(LoraConfig(r=args.lora_rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                       target_modules=list(args.lora_targets)))
        student.guidance_scale_embedder.requires_grad_(True)
        self.teacher = teacher.requires_grad_(False).eval()
        self.pipe = self.teacher_pipe.with_transformer(student)
        self.model = student

    def components(self) -> dict[str, torch.nn.Module]:
        return {**super().components(), "teacher": self.teacher}

    def scales(self, index: int, rank: int) -> tuple[float, float]:
        """(s_t, s_c) of a micro-batch: the teacher's settings with probability p_teacher, else uniform draws."""
        rng = np.random.default_rng(step_seed(self.cfg.seed, index, rank, 0x5CA1E))
        if rng.random() < self.args.p_teacher:
            return self.args.teacher_scales
        return float(rng.uniform(*self.args.text_scale)), float(rng.uniform(*self.args.canvas_scale))

    def batch(self, index: int, rank: int, batch_size: int) -> tuple[CanvasBatch, tuple[float, float]]:
        return super().batch(index, rank, batch_size), self.scales(index, rank)

    def loss(self, model, batch, generator: torch.Generator):
        canvas_batch, (s_t, s_c) = batch
        ex = canvas_batch.examples
        canvases = [Canvas(width=e.canvas.width, height=e.canvas.height) if drop else e.canvas
                    for e, drop in zip(ex, canvas_batch.drop_canvas, strict=True)]
        prompts = ["" if drop else e.prompt for e, drop in zip(ex, canvas_batch.drop_text, strict=True)]
        plain = self.args.switches.replace(modulation=False)
        enc = self.encoders()
        inputs = build_inputs(enc, prompts, canvases, canvas_batch.scheme, plain, negative=[""] * len(ex))
        bare = build_inputs(enc, prompts, [Canvas(width=c.width, height=c.height) for c in canvases],
                            canvas_batch.scheme, plain)
        x0 = self._targets(ex)
        sigmas = sample_sigmas(self.cfg.flow, len(ex), generator).to(self.device)
        noise = torch.randn(x0.shape, generator=generator).to(self.device)
        xt, _ = noisy_and_target(x0, sigmas, noise)
        with torch.no_grad():
            guided = GuidedVelocity(guidance_branches(inputs, s_t, s_c, bare))
            target = guided(self.teacher, xt, sigmas)  # (B, L, C·4): the teacher's 3-branch velocity
        scales = torch.tensor([[s_t, s_c]], device=self.device).expand(len(ex), 2)
        student_inputs = replace(inputs, guidance_scales=scales)
        pred = velocity(model, student_inputs, xt, sigmas, student_inputs.conditioning())
        loss = F.mse_loss(pred.float(), target.float())
        return loss, {"s_t": s_t, "s_c": s_c, "cond_tokens": float(inputs.cond_tokens.shape[1])}

    def export(self, model, out_dir: Path, state_dict: dict | None = None) -> None:
        """The adapter folder: LoRA (diffusers format, peft config in its metadata), embedder weights, card."""
        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save_file

        from ...pipelines.distilled import CARD_FILE, EMBEDDER_FILE
        from ...pipelines.loading import recommended_settings
        from ...pipelines.lora import adapter_metadata

        if state_dict is not None:
            raise ValueError("guidance_distill does not run sharded")
        out_dir = Path(out_dir)
        self.pipe.save_lora_weights(out_dir, transformer_lora_layers=get_peft_model_state_dict(model),
                                    transformer_lora_adapter_metadata=adapter_metadata(model))
        embedder = {k: v.detach().float().contiguous() for k, v in model.guidance_scale_embedder.state_dict().items()}
        save_file(embedder, str(out_dir / EMBEDDER_FILE))
        a = self.args
        card = {"teacher": a.teacher, "lora_rank": a.lora_rank, "text_scale": list(a.text_scale),
                "canvas_scale": list(a.canvas_scale), "teacher_scales": list(a.teacher_scales),
                "steps": self.cfg.max_steps, "batch_size": self.cfg.batch_size, "size": a.size,
                "generation": a.generation if a.generation is not None else recommended_settings(a.teacher)}
        (out_dir / CARD_FILE).write_text(json.dumps(card, indent=1))


def guidance_distill(cfg: TrainConfig) -> GuidanceDistillTask:
    return GuidanceDistillTask(cfg)
