"""Generation jobs: submit, status, cancel, result PNG, and a Server-Sent Events progress stream."""

from __future__ import annotations

import asyncio
import json
import re
import time

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from ...canvas import CanvasError, validate_canvas
from ..context import Studio, studio
from ..document import Result
from ..errors import ApiError
from ..jobs import FINISHED, Job, QueueFull
from ..schemas import HistoryEntry, JobRequest

router = APIRouter(tags=["jobs"])
POLL_S = 0.05
EVENT_ID = re.compile(r"[0-9]{1,9}")


def _job(s: Studio, job_id: str) -> Job:
    job = s.service.get(job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job {job_id!r} (unknown or long finished)")
    return job


def _job_view(s: Studio, job: Job) -> dict:
    return {**job.view(), "queue_position": s.service.position(job)}


@router.post("/api/projects/{project_id}/jobs", status_code=202)
def submit(project_id: str, body: JobRequest, s: Studio = Depends(studio)) -> dict:
    """Queue a generation of the project's current canvas. 429 when the queue is full."""
    with s.store.lock:
        doc = s.store.get(project_id)
        settings = body.settings or doc.settings
        if body.settings is not None:
            doc.settings = body.settings
            s.store.changed(doc)
        canvas = doc.snapshot()
    try:
        validate_canvas(canvas, stride=s.config.stride)
    except CanvasError as err:
        raise ApiError(422, "invalid_canvas", str(err)) from None

    def store_result(job: Job) -> None:
        entry = HistoryEntry(job_id=job.id, prompt=job.canvas.prompt, settings=job.settings,
                             width=job.canvas.width, height=job.canvas.height, created=time.time(),
                             result_url=f"/api/projects/{project_id}/results/{job.id}.png")
        with s.store.lock:
            target = s.store.get(project_id)
            target.add_result(Result(entry, job.result_png or b""), s.config.max_history)
            s.store.changed(target)

    try:
        job = s.service.submit(project_id, canvas, settings, on_success=store_result)
    except QueueFull as err:
        raise ApiError(429, "queue_full", str(err)) from None
    return _job_view(s, job)


@router.get("/api/jobs/{job_id}")
def status(job_id: str, s: Studio = Depends(studio)) -> dict:
    return _job_view(s, _job(s, job_id))


@router.post("/api/jobs/{job_id}/cancel")
def cancel(job_id: str, s: Studio = Depends(studio)) -> dict:
    job = _job(s, job_id)
    if not s.service.cancel(job):
        raise ApiError(409, "job_finished", f"job {job_id!r} has already finished ({job.state.value})")
    return _job_view(s, job)


@router.get("/api/jobs/{job_id}/result.png")
def result(job_id: str, s: Studio = Depends(studio)) -> Response:
    job = _job(s, job_id)
    if job.result_png is None:
        raise ApiError(409, "no_result", f"job {job_id!r} has no result ({job.state.value})")
    return Response(job.result_png, media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{job_id}.png"'})


@router.get("/api/projects/{project_id}/results/{job_id}.png")
def history_result(project_id: str, job_id: str, s: Studio = Depends(studio)) -> Response:
    with s.store.lock:
        png = s.store.get(project_id).result(job_id).png
    return Response(png, media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{project_id}-{job_id}.png"'})


def _sse(event: dict) -> str:
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"


@router.get("/api/jobs/{job_id}/events")
async def events(job_id: str, request: Request, s: Studio = Depends(studio)) -> StreamingResponse:
    """Server-Sent Events: `state`, `progress` (step, total, optional preview data URL) and a final `done`.

    Every event since the job was submitted is replayed; `Last-Event-ID` resumes after that event.
    """
    job = _job(s, job_id)
    last = request.headers.get("last-event-id", "")
    start = int(last) + 1 if EVENT_ID.fullmatch(last) else 0  # anything else replays from the start

    async def stream():
        cursor = start
        while True:
            batch = s.service.events_since(job, cursor)
            for event in batch:
                yield _sse(event)
            cursor += len(batch)
            if job.state in FINISHED and not s.service.events_since(job, cursor):
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
