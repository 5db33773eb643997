"""Guidance: the branches of one denoising step and how their velocities combine.

With a positive branch v₊ = v(canvas, prompt) and guidance branches k of weight w_k,

    v = v₊ + Σ_k w_k · (v₊ − v_k),

text CFG is the branch (canvas, negative prompt) with w = s_t − 1, canvas CFG the branch (empty canvas,
prompt) with w = s_c − 1 (InstructPix2Pix-style guidance towards the input, the branch canvas dropout
trains). Branches that read the same inputs (positive and negative prompt on one canvas) share one
transformer call as a stacked batch — the same numbers as separate calls up to float rounding, and
cheaper per sample on CPU; `batch=False` runs every branch on its own.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..models.transformer import JointConditioning
from .inputs import DenoiserInputs, velocity


@dataclass(frozen=True)
class Branch:
    inputs: DenoiserInputs
    negative: bool = False  # reads the inputs' negative prompt
    weight: float = 0.0  # w_k in v₊ + Σ w_k (v₊ − v_k); ignored for the positive branch (the first)


def guidance_branches(inputs: DenoiserInputs, true_cfg_scale: float = 1.0, canvas_cfg_scale: float = 1.0,
                      bare: DenoiserInputs | None = None) -> list[Branch]:
    """[positive, (negative prompt), (empty canvas)] for the given scales; scale 1 leaves a branch out."""
    branches = [Branch(inputs)]
    if true_cfg_scale > 1.0:
        branches.append(Branch(inputs, negative=True, weight=true_cfg_scale - 1.0))
    if canvas_cfg_scale > 1.0:
        if bare is None:
            raise ValueError("canvas_cfg_scale > 1 needs the empty-canvas inputs (`bare`)")
        branches.append(Branch(bare, weight=canvas_cfg_scale - 1.0))
    return branches


@dataclass
class _Call:
    inputs: DenoiserInputs
    members: list[int]  # branch indices, in stacking order
    negatives: tuple[bool, ...]
    cond: JointConditioning
    name: str  # "cond", "uncond", "canvas_uncond" or a "+"-joined stack: the cache context of this call


class GuidedVelocity:
    """The guided velocity of one trajectory: conditionings (and KV caches) are made once, here."""

    def __init__(self, branches: list[Branch], batch: bool = True):
        if not branches:
            raise ValueError("no branch to evaluate")
        self.branches = branches
        groups: dict[int, list[int]] = {}
        for k, br in enumerate(branches):
            key = id(br.inputs) if batch else k
            groups.setdefault(key, []).append(k)
        self.calls = []
        for members in groups.values():
            inputs = branches[members[0]].inputs
            negatives = tuple(branches[k].negative for k in members)
            name = "+".join(_branch_name(k, branches[k], branches[0]) for k in members)
            self.calls.append(_Call(inputs, members, negatives, inputs.conditioning(repeat=len(members)), name))

    @property
    def passes(self) -> int:
        """Transformer calls per step."""
        return len(self.calls)

    def branch_velocities(self, model: torch.nn.Module, x: torch.Tensor, sigma: torch.Tensor,
                          joint_attention_kwargs: dict | None = None) -> list[torch.Tensor]:
        """Each branch's velocity at x (B, L, C·4), in branch order."""
        out: list[torch.Tensor | None] = [None] * len(self.branches)
        cache_context = getattr(model, "cache_context", None)  # diffusers' block caches keep state per call name
        for call in self.calls:
            r = len(call.members)
            context = cache_context(call.name) if cache_context is not None else nullcontext()
            with context:
                v = velocity(model, call.inputs, x.repeat(r, 1, 1) if r > 1 else x, sigma, call.cond, call.negatives,
                             joint_attention_kwargs)
            for k, part in zip(call.members, v.chunk(r), strict=True):
                out[k] = part
        return out

    def __call__(self, model: torch.nn.Module, x: torch.Tensor, sigma: torch.Tensor,
                 joint_attention_kwargs: dict | None = None) -> torch.Tensor:
        vs = self.branch_velocities(model, x, sigma, joint_attention_kwargs)
        return combine(vs, [br.weight for br in self.branches])


def _branch_name(k: int, branch: Branch, positive: Branch) -> str:
    if k == 0:
        return "cond"
    return "uncond" if branch.inputs is positive.inputs else "canvas_uncond"


def combine(velocities: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """v₊ + Σ_k w_k (v₊ − v_k), v₊ = velocities[0] (weights[0] is ignored)."""
    v_pos = velocities[0]
    v = v_pos
    for vk, w in zip(velocities[1:], weights[1:], strict=True):
        v = v + w * (v_pos - vk)
    return v
