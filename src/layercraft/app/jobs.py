"""Generation jobs: one model, loaded once on first use, one generation at a time, a bounded queue.

A job moves queued → running → succeeded | failed | cancelled | timed_out. Cancellation and the
per-job timeout are checked at every denoising step through the pipeline's `callback_on_step_end`
(a step that never returns cannot be interrupted). Every change is appended to the job's event
list, which the streaming endpoint replays to each listener from any point.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from PIL import Image

from ..canvas import Canvas
from .document import new_id
from .schemas import Settings


class Pipeline(Protocol):
    def __call__(self, *, prompt: str, canvas: Canvas, num_inference_steps: int, guidance_scale: float,
                 true_cfg_scale: float, canvas_cfg_scale: float, lock_blend: float, generator: Any, scheme: str,
                 callback_on_step_end: Callable, output_type: str) -> Any: ...


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    timed_out = "timed_out"


FINISHED = {JobState.succeeded, JobState.failed, JobState.cancelled, JobState.timed_out}


class QueueFull(Exception):
    pass


class _Stop(Exception):
    def __init__(self, state: JobState, message: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass
class Job:
    id: str
    project_id: str
    canvas: Canvas
    settings: Settings
    on_success: Callable[[Job], None] | None = None
    state: JobState = JobState.queued
    step: int = 0
    total: int = 0
    error: str | None = None
    result_png: bytes | None = None
    created: float = field(default_factory=time.time)
    events: list[dict] = field(default_factory=list)
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict:
        return {"id": self.id, "project_id": self.project_id, "state": self.state.value, "step": self.step,
                "total": self.total, "error": self.error, "settings": self.settings.model_dump(),
                "prompt": self.canvas.prompt,
                "result_url": f"/api/jobs/{self.id}/result.png" if self.result_png is not None else None}


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def preview_data_url(img: Image.Image, side: int) -> str:
    small = img.convert("RGB")
    small.thumbnail((side, side))
    return "data:image/png;base64," + base64.b64encode(png_bytes(small)).decode()


class GenerationService:
    """Runs jobs on one worker thread against one pipeline made by `load_pipeline` on first use.

    The pipeline may offer `preview_image(callback_kwargs) -> PIL.Image | None` for cheap low-res
    previews during denoising; without it, progress events carry no preview.
    """

    def __init__(self, load_pipeline: Callable[[], Pipeline], *, queue_size: int = 4, timeout_s: float = 600.0,
                 preview_side: int = 160, keep_jobs: int = 200, model_name: str = "") -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._load = load_pipeline
        self.queue_size = queue_size
        self.timeout_s = timeout_s
        self.preview_side = preview_side
        self.keep_jobs = keep_jobs
        self.model_name = model_name
        self._pipe: Pipeline | None = None
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="studio-generation", daemon=True)
        self._thread.start()

    def stop(self, wait_s: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            for job in list(self._waiting) + [j for j in self._jobs.values() if j.state == JobState.running]:
                job.cancel_requested.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=wait_s)
            self._thread = None

    # ---- API ----------------------------------------------------------------------------------
    def submit(self, project_id: str, canvas: Canvas, settings: Settings,
               on_success: Callable[[Job], None] | None = None) -> Job:
        with self._cond:
            if self._stopping:
                raise QueueFull("the studio is shutting down")
            if len(self._waiting) >= self.queue_size:
                raise QueueFull(f"the generation queue is full ({self.queue_size} waiting); "
                                "try again when a job has finished")
            job = Job(new_id("j", self._jobs), project_id, canvas, settings, on_success)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._emit(job, {"type": "state", "state": job.state.value, "position": len(self._waiting)})
            self._forget_old()
            self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        with self._cond:
            return next((k + 1 for k, j in enumerate(self._waiting) if j is job), None)

    def cancel(self, job: Job) -> bool:
        """Ask a job to stop; False if it had already finished."""
        with self._cond:
            if job.state in FINISHED:
                return False
            job.cancel_requested.set()
            if job.state == JobState.queued:
                self._waiting.remove(job)
                self._finish(job, JobState.cancelled, "cancelled before it started")
            return True

    def events_since(self, job: Job, cursor: int) -> list[dict]:
        with self._cond:
            return job.events[cursor:]

    # ---- internals ----------------------------------------------------------------------------
    def _emit(self, job: Job, event: dict) -> None:
        job.events.append({"id": len(job.events), **event})

    def _finish(self, job: Job, state: JobState, error: str | None = None) -> None:
        job.state = state
        job.error = error
        event = {"type": "done", "state": state.value, "error": error}
        if job.result_png is not None:
            event["result_url"] = f"/api/jobs/{job.id}/result.png"
        self._emit(job, event)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in FINISHED]
        for job in finished[: max(0, len(self._jobs) - self.keep_jobs)]:
            del self._jobs[job.id]

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    for job in list(self._waiting):
                        self._finish(job, JobState.cancelled, "the studio was shut down")
                    self._waiting.clear()
                    return
                job = self._waiting.popleft()
                job.state = JobState.running
                job.total = job.settings.steps
                self._emit(job, {"type": "state", "state": "running", "loading_model": self._pipe is None})
            self._run(job)

    def _pipeline(self) -> Pipeline:
        if self._pipe is None:
            self._pipe = self._load()
        return self._pipe

    def _run(self, job: Job) -> None:
        try:
            pipe = self._pipeline()
        except Exception as err:  # loading is retried by the next job
            with self._cond:
                self._finish(job, JobState.failed, f"the model could not be loaded: {type(err).__name__}: {err}")
            return
        import torch  # the generator is the only torch object the studio touches

        deadline = time.monotonic() + self.timeout_s
        make_preview = getattr(pipe, "preview_image", None)

        def on_step(_pipe: Any, step: int, _timestep: Any, callback_kwargs: dict) -> dict:
            if job.cancel_requested.is_set():
                raise _Stop(JobState.cancelled, "cancelled")
            if time.monotonic() > deadline:
                raise _Stop(JobState.timed_out, f"stopped after the {self.timeout_s:g} s time limit")
            event: dict = {"type": "progress", "step": step + 1, "total": job.total}
            if callable(make_preview):
                img = make_preview(callback_kwargs)
                if img is not None:
                    event["preview"] = preview_data_url(img, self.preview_side)
            with self._cond:
                job.step = step + 1
                self._emit(job, event)
            return callback_kwargs

        try:
            s = job.settings
            out = pipe(prompt=job.canvas.prompt, canvas=job.canvas, num_inference_steps=s.steps,
                       guidance_scale=s.guidance, true_cfg_scale=s.true_cfg,
                       negative_prompt="" if s.true_cfg > 1 else None,  # true CFG against the empty prompt
                       canvas_cfg_scale=s.canvas_cfg, lock_blend=s.lock_blend,
                       generator=torch.Generator("cpu").manual_seed(s.seed), scheme=s.scheme,
                       callback_on_step_end=on_step, output_type="pil")
            images = getattr(out, "images", None)
            if not images or not isinstance(images[0], Image.Image):
                raise TypeError("the pipeline returned no PIL image")
            job.result_png = png_bytes(images[0])
        except _Stop as stop:
            with self._cond:
                self._finish(job, stop.state, str(stop))
            return
        except Exception as err:
            with self._cond:
                self._finish(job, JobState.failed, f"generation failed: {type(err).__name__}: {err}")
            return
        if job.on_success is not None:
            try:
                job.on_success(job)
            except Exception as err:
                with self._cond:
                    self._finish(job, JobState.failed, f"the result could not be stored: {err}")
                return
        with self._cond:
            job.step = job.total
            self._finish(job, JobState.succeeded)
