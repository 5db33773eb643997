"""The training loop on accelerate: one loop for every stage, single- or multi-process.

Checkpoints are accelerate `save_state` folders (model, optimizer, scheduler, EMA, step, RNG),
pruned to the newest `keep_checkpoints` only once a new one is complete (a crash mid-save never
costs the previous checkpoint); a run started again in the same output folder resumes from the
newest complete one, and refuses to if the batch size, learning rate or seed changed (unless
`resume_override`). `log.jsonl` holds one line per optimizer step; a line cut short by a crash is
dropped on resume. A task that streams its data (`task.streaming`: `stream_loader(rank, world_size,
positions)` instead of `batch`) has every stream's position saved in each checkpoint
(`training/stream.py`), so that a resumed run continues each stream where it stood.
Other tasks' micro-batches can be built ahead by worker processes (`data_workers`, training/prefetch.py), the
same batches in the same order; `max_minutes` ends a run early, with a checkpoint and the export.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from ..devices import resolve_mixed_precision
from .config import TrainConfig
from .launch import check_launch, sharded
from .optim import build_optimizer, optimizer_class
from .prefetch import batches as prefetched
from .stream import StreamState
from .task import Task, build_task, step_seed

COMPLETE = "COMPLETE"  # written last into a checkpoint folder: a crash mid-save leaves it unusable, not corrupt


@dataclass
class TrainState:
    """Small state checkpointed beside the weights."""

    step: int = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, d: dict) -> None:
        self.step = int(d["step"])


@dataclass
class TrainResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    output_dir: Path = Path(".")


def latest_checkpoint(output_dir: Path) -> Path | None:
    ckpts = [(int(m.group(1)), p) for p in (output_dir / "checkpoints").glob("checkpoint_*")
             if (m := re.fullmatch(r"checkpoint_(\d+)", p.name)) and (p / COMPLETE).exists()]
    return max(ckpts)[1] if ckpts else None


RESUME_FIXED = ("batch_size", "lr", "seed")  # what a resumed run must share with the run it continues


class ResumeMismatch(ValueError):
    """Resuming would continue a run under different settings than it was started with."""


def _log_step(line: str) -> int | None:
    """The step of one log line, or None for a line that does not parse (cut short by a crash)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _trim_log(log: Path, step: int) -> None:
    """Drop log lines past the step we resume from (they were lost with the crash), and any line a
    crash cut short."""
    if not log.exists():
        return
    keep = [ln for ln in log.read_text(errors="replace").splitlines()
            if (s := _log_step(ln)) is not None and s <= step]
    tmp = log.with_suffix(".tmp")
    try:
        tmp.write_text("".join(ln + "\n" for ln in keep))
        os.replace(tmp, log)
    finally:
        tmp.unlink(missing_ok=True)


def check_resume(cfg: TrainConfig, out: Path) -> None:
    """Refuse to resume with a batch size, learning rate or seed other than the saved config's."""
    saved_path = out / "config.yaml"
    if cfg.resume_override or not saved_path.is_file():
        return
    try:
        saved = yaml.safe_load(saved_path.read_text())
    except yaml.YAMLError as err:
        raise ResumeMismatch(f"{saved_path}: the saved config is unreadable ({err}); pass resume_override=true "
                             "to resume with the given one") from None
    saved = saved if isinstance(saved, dict) else {}
    changed = [f"{k} {saved.get(k)!r} → {getattr(cfg, k)!r}" for k in RESUME_FIXED
               if k in saved and saved[k] != getattr(cfg, k)]
    if changed:
        raise ResumeMismatch(f"{out}: resuming would change {', '.join(changed)}; start a new output_dir, or pass "
                             "resume_override=true to continue with the new values")


def rotate_checkpoints(output_dir: Path, keep: int) -> list[Path]:
    """Delete complete checkpoints older than the newest `keep`; the ones removed."""
    ckpts = sorted((int(m.group(1)), p) for p in (output_dir / "checkpoints").glob("checkpoint_*")
                   if (m := re.fullmatch(r"checkpoint_(\d+)", p.name)) and (p / COMPLETE).exists())
    old = [p for _, p in ckpts[:-keep]] if keep > 0 else []
    for p in old:
        shutil.rmtree(p)
    return old


def train(cfg: TrainConfig, task: Task | None = None) -> TrainResult:
    check_launch()
    optimizer_class(cfg.optimizer)  # a missing bitsandbytes fails here, before a large model is loaded
    out = Path(cfg.output_dir)
    if latest_checkpoint(out) is not None:
        check_resume(cfg, out)  # before any set-up: a refused resume costs nothing
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),  # so a multi-process launch on CPU uses gloo DDP
        # the LR schedule counts optimizer steps (accelerate would otherwise step it once per process)
        step_scheduler_with_optimizer=False,
        mixed_precision=resolve_mixed_precision(cfg.mixed_precision),
        gradient_accumulation_steps=cfg.grad_accum,
        # no total_limit: accelerate would delete the oldest checkpoint *before* writing the new one
        project_config=ProjectConfiguration(project_dir=str(out), automatic_checkpoint_naming=True),
    )
    torch.manual_seed(cfg.seed)
    task = task or build_task(cfg)
    if hasattr(task, "setup"):  # a task may place its frozen components on the accelerator's device
        task.setup(accelerator)
    if getattr(task, "find_unused_parameters", False):  # data-dependent graphs only: DDP then traverses it
        accelerator.ddp_handler = DistributedDataParallelKwargs(find_unused_parameters=True)
    model = task.model
    if cfg.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    if hasattr(task, "param_groups"):  # a task may give some parameters their own learning rate
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in task.param_groups(cfg.lr)]
    else:
        groups = [{"params": [p for p in task.trainable_parameters() if p.requires_grad]}]
    params = [p for g in groups for p in g["params"]]
    optimizer = build_optimizer(cfg.optimizer, groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = "constant_with_warmup" if cfg.lr_schedule == "constant" and cfg.warmup_steps else cfg.lr_schedule
    scheduler = get_scheduler(schedule, optimizer, num_warmup_steps=cfg.warmup_steps,
                              num_training_steps=cfg.max_steps)
    if sharded(accelerator) and (cfg.sample_every or cfg.ema_decay > 0):
        raise ValueError("sharded training (FSDP, ZeRO-3) takes sample_every: 0 and ema_decay: 0 (the main process "
                         "alone cannot run or average split weights)")
    if accelerator.state.deepspeed_plugin is not None:  # no dataloader is prepared for DeepSpeed to read it from
        accelerator.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.batch_size
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    ema = EMAModel(params, decay=cfg.ema_decay) if cfg.ema_decay > 0 else None
    state = TrainState()
    accelerator.register_for_checkpointing(state)
    if ema is not None:
        accelerator.register_for_checkpointing(ema)
    streaming = bool(getattr(task, "streaming", False))  # batches from a stream (training/stream.py), not batch()
    if streaming:
        stream_state = StreamState(accelerator.num_processes, task.streams)
        accelerator.register_for_checkpointing(stream_state)

    log = out / "log.jsonl"
    resume = latest_checkpoint(out)
    if accelerator.is_main_process:
        for p in (out / "checkpoints").glob("checkpoint_*"):
            if not (p / COMPLETE).exists():  # left by a crash mid-save
                shutil.rmtree(p)
    accelerator.wait_for_everyone()
    if resume is not None:
        accelerator.load_state(str(resume))
        accelerator.project_configuration.iteration = int(resume.name.split("_")[1]) + 1
        if accelerator.is_main_process:
            _trim_log(log, state.step)
            (out / "config.yaml").write_text(cfg.to_yaml())
    elif accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        (out / "config.yaml").write_text(cfg.to_yaml())

    rank = accelerator.process_index
    if streaming:  # each stream from where the checkpoint left it (all zeros on a fresh run)
        if cfg.data_workers:
            raise ValueError("this task streams a dataset with its own workers (data.workers): data_workers takes 0")
        positions = stream_state.table[rank]
        batches = iter(task.stream_loader(rank, accelerator.num_processes, positions))
    else:  # micro-batch k is task.batch(k, rank, batch_size), inline or built ahead by worker processes
        batches = prefetched(task, rank, cfg.batch_size, state.step * cfg.grad_accum, cfg.max_steps * cfg.grad_accum,
                             cfg.data_workers)
    started = time.monotonic()
    losses: list[float] = []
    bar = tqdm(total=cfg.max_steps, initial=state.step, disable=not accelerator.is_local_main_process,
               desc=f"train {cfg.task}")
    model.train()
    while state.step < cfg.max_steps:
        step_loss, logs = 0.0, {}
        for micro in range(cfg.grad_accum):
            index = state.step * cfg.grad_accum + micro
            if streaming:
                batch, stream, position = next(batches)
                positions[stream] = [int(v) for v in position]  # consumed now, whatever the workers prefetched
            else:
                batch = next(batches)  # = task.batch(index, rank, cfg.batch_size)
            gen = torch.Generator().manual_seed(step_seed(cfg.seed, index, rank))
            with accelerator.accumulate(model), accelerator.autocast():
                loss, logs = task.loss(model, batch, gen)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            step_loss += loss.detach().float() / cfg.grad_accum
        if ema is not None:
            ema.step(params)
        state.step += 1
        mean_loss = accelerator.reduce(step_loss.to(accelerator.device), reduction="mean").item()
        losses.append(mean_loss)
        bar.update(1)
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        if accelerator.is_main_process:
            with log.open("a") as f:
                f.write(json.dumps({"step": state.step, "loss": mean_loss, "lr": scheduler.get_last_lr()[0],
                                    **{k: float(v) for k, v in logs.items()}}) + "\n")
        out_of_time = _out_of_time(accelerator, started, cfg.max_minutes)
        if out_of_time and accelerator.is_main_process:
            tqdm.write(f"time budget of {cfg.max_minutes:g} min reached at step {state.step}: checkpoint and export")
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.max_steps or out_of_time:
            if streaming:  # every rank's stream positions, for the main process to save
                table = torch.tensor(positions, dtype=torch.int64, device=accelerator.device)[None]
                stream_state.table = accelerator.gather(table).cpu().tolist()
            saved = Path(accelerator.save_state())
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                (saved / COMPLETE).write_text(str(state.step))
                rotate_checkpoints(out, cfg.keep_checkpoints)  # only now that the new one is complete
        if cfg.sample_every and state.step % cfg.sample_every == 0 and accelerator.is_main_process:
            with _ema_weights(ema, params):
                task.sample(accelerator.unwrap_model(model), state.step, out / "samples")
        if out_of_time:
            break
    bar.close()
    del batches  # stops any DataLoader workers
    accelerator.wait_for_everyone()
    if sharded(accelerator):  # no replicas to compare; every process takes part in gathering the weights
        full = accelerator.get_state_dict(model)
        if accelerator.is_main_process:
            task.export(accelerator.unwrap_model(model), out / "final", state_dict=full)
    else:
        _check_replicas(accelerator, params, out)
        if accelerator.is_main_process:
            with _ema_weights(ema, params):
                task.export(accelerator.unwrap_model(model), out / "final")
    accelerator.wait_for_everyone()
    # Drop the DDP wrapper (its reducer holds the process group) before the group is destroyed: a gloo
    # group torn down under a live reducer can hang at interpreter exit when one rank is slower.
    accelerator.free_memory()
    del model, optimizer, scheduler
    gc.collect()
    accelerator.end_training()
    return TrainResult(steps=state.step, losses=losses, output_dir=out)


def _out_of_time(accelerator: Accelerator, started: float, max_minutes: float | None) -> bool:
    """Whether the wall-clock budget is spent; all processes stop together, at the first
    one whose clock says so."""
    if max_minutes is None:
        return False
    spent = torch.tensor([float(time.monotonic() - started >= 60 * max_minutes)], device=accelerator.device)
    if accelerator.num_processes > 1:
        spent = accelerator.reduce(spent, reduction="max")
    return bool(spent.item())


def _check_replicas(accelerator: Accelerator, params: list[torch.nn.Parameter], out: Path) -> None:
    """Every process must end with identical weights (gradients were all-reduced); record and verify."""
    with torch.no_grad():
        fp = torch.stack([sum(p.double().sum() for p in params), sum((p.double() ** 2).sum() for p in params)])
    fps = accelerator.gather(fp.to(accelerator.device)[None]).view(-1, 2).cpu()
    if accelerator.is_main_process:
        (out / "replicas.json").write_text(json.dumps({"processes": accelerator.num_processes,
                                                       "fingerprints": fps.tolist()}))
    if not torch.allclose(fps, fps[:1].expand_as(fps), rtol=1e-9, atol=0):
        raise RuntimeError(f"model replicas diverged across processes: {fps.tolist()}")


class _ema_weights:
    """Context: swap EMA weights in for sampling/export, then restore the trained ones."""

    def __init__(self, ema: EMAModel | None, params: list[torch.nn.Parameter]):
        self.ema, self.params = ema, params

    def __enter__(self):
        if self.ema is not None:
            self.ema.store(self.params)
            self.ema.copy_to(self.params)

    def __exit__(self, *exc):
        if self.ema is not None:
            self.ema.restore(self.params)
