import json
import threading
import time

from studio_fake_pipeline import FakePipeline
from studio_helpers import client_fixture, error, new_project, png, studio_client, upload, wait_job  # noqa: F401

SETTINGS = {"seed": 7, "steps": 4, "guidance": 2.5, "true_cfg": 2.0, "canvas_cfg": 1.5, "lock_blend": 0.5,
            "scheme": "anyphoto"}


def _ready_project(c) -> str:
    pid = new_project(c, 128, 96, prompt="two friends")["id"]
    upload(c, pid, png(40, 40, (255, 0, 0, 255)))
    upload(c, pid, png(30, 60, (0, 0, 255, 255)))
    return pid


def _submit(c, pid: str, **settings) -> dict:
    r = c.post(f"/api/projects/{pid}/jobs", json={"settings": {**SETTINGS, **settings}})
    assert r.status_code == 202, r.text
    return r.json()


def test_generate_streams_progress_and_stores_the_result(tmp_path):
    pipe = FakePipeline()
    with studio_client(tmp_path, pipe) as c:
        pid = _ready_project(c)
        job = _submit(c, pid)
        events = []
        with c.stream("GET", f"/api/jobs/{job['id']}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        kinds = [e["type"] for e in events]
        assert kinds == ["state", "state", "progress", "progress", "progress", "progress", "done"]
        assert [e["step"] for e in events if e["type"] == "progress"] == [1, 2, 3, 4]
        assert all(e["preview"].startswith("data:image/png;base64,") for e in events if e["type"] == "progress")
        assert events[-1] == {"id": 6, "type": "done", "state": "succeeded", "error": None,
                              "result_url": f"/api/jobs/{job['id']}/result.png"}
        layer_ids = [la["id"] for la in c.get(f"/api/projects/{pid}").json()["canvas"]["layers"]]
        assert pipe.calls[0] == {"prompt": "two friends", "steps": 4, "guidance": 2.5, "true_cfg": 2.0,
                                 "canvas_cfg": 1.5, "lock_blend": 0.5, "scheme": "anyphoto", "layers": layer_ids}
        result = c.get(f"/api/jobs/{job['id']}/result.png")
        assert result.headers["content-type"] == "image/png"
        project = c.get(f"/api/projects/{pid}").json()
        entry = project["history"][0]
        assert entry["job_id"] == job["id"] and entry["settings"] == SETTINGS and entry["prompt"] == "two friends"
        assert c.get(entry["result_url"]).content == result.content
        assert project["settings"] == SETTINGS  # submitted settings are kept with the project
        # resuming the stream after the last event id sends nothing more
        with c.stream("GET", f"/api/jobs/{job['id']}/events", headers={"Last-Event-ID": "6"}) as r:
            assert [line for line in r.iter_lines() if line] == []


def test_same_seed_same_image_other_seed_other_image(client):
    pid = _ready_project(client)
    pngs = []
    for seed in (7, 7, 8):
        job = wait_job(client, _submit(client, pid, seed=seed)["id"])
        pngs.append(client.get(job["result_url"]).content)
    assert pngs[0] == pngs[1] != pngs[2]


def test_queue_full_is_a_clear_429(tmp_path):
    gate = threading.Event()
    pipe = FakePipeline(gate=gate)
    with studio_client(tmp_path, pipe, queue_size=2) as c:
        pid = _ready_project(c)
        running = _submit(c, pid)
        assert pipe.started.wait(5)
        waiting = [_submit(c, pid), _submit(c, pid)]
        assert [c.get(f"/api/jobs/{j['id']}").json()["queue_position"] for j in waiting] == [1, 2]
        r = c.post(f"/api/projects/{pid}/jobs", json={})
        assert error(r) == (429, "queue_full",
                            "the generation queue is full (2 waiting); try again when a job has finished")
        gate.set()
        assert [wait_job(c, j["id"])["state"] for j in [running, *waiting]] == ["succeeded"] * 3
        assert len(c.get(f"/api/projects/{pid}").json()["history"]) == 3


def test_cancel_running_and_queued_jobs(tmp_path):
    pipe = FakePipeline(step_delay=0.02)
    with studio_client(tmp_path, pipe) as c:
        pid = _ready_project(c)
        running = _submit(c, pid, steps=200)
        queued = _submit(c, pid)
        wait_job(c, running["id"], until=lambda j: j["step"] >= 2)
        r = c.post(f"/api/jobs/{queued['id']}/cancel")
        assert r.json()["state"] == "cancelled" and r.json()["error"] == "cancelled before it started"
        assert c.post(f"/api/jobs/{running['id']}/cancel").status_code == 200
        done = wait_job(c, running["id"])
        assert (done["state"], done["error"], done["result_url"]) == ("cancelled", "cancelled", None)
        assert done["step"] < 200
        assert error(c.post(f"/api/jobs/{running['id']}/cancel")) == (
            409, "job_finished", f"job {running['id']!r} has already finished (cancelled)")
        assert error(c.get(f"/api/jobs/{running['id']}/result.png")) == (
            409, "no_result", f"job {running['id']!r} has no result (cancelled)")
        assert c.get(f"/api/projects/{pid}").json()["history"] == []
        assert len(pipe.calls) == 1  # the queued job never reached the pipeline


def test_job_timeout(tmp_path):
    with studio_client(tmp_path, FakePipeline(step_delay=0.05), timeout_s=0.15) as c:
        pid = _ready_project(c)
        job = wait_job(c, _submit(c, pid, steps=100)["id"])
        assert (job["state"], job["error"]) == ("timed_out", "stopped after the 0.15 s time limit")


def test_failed_generation_loses_nothing(tmp_path):
    with studio_client(tmp_path, FakePipeline(fail_at=1)) as c:
        pid = _ready_project(c)
        before = c.get(f"/api/projects/{pid}").json()
        job = wait_job(c, _submit(c, pid, **{"seed": before["settings"]["seed"]})["id"])
        assert (job["state"], job["error"]) == ("failed", "generation failed: RuntimeError: out of memory at step 1")
        after = c.get(f"/api/projects/{pid}").json()
        assert after["canvas"] == before["canvas"] and after["history"] == []


def test_model_load_failure_is_reported_and_retried(tmp_path):
    attempts = []

    def load():
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise FileNotFoundError("no model_index.json in /models/x")
        return FakePipeline()

    with studio_client(tmp_path, load=load) as c:
        pid = _ready_project(c)
        first = wait_job(c, _submit(c, pid)["id"])
        assert (first["state"], first["error"]) == (
            "failed", "the model could not be loaded: FileNotFoundError: no model_index.json in /models/x")
        assert wait_job(c, _submit(c, pid)["id"])["state"] == "succeeded"
        wait_job(c, _submit(c, pid)["id"])
        assert len(attempts) == 2  # loaded once, then kept


def test_invalid_canvas_is_refused_before_queueing(client):
    pid = new_project(client, 100, 96)["id"]
    upload(client, pid, png())
    assert error(client.post(f"/api/projects/{pid}/jobs", json={})) == (
        422, "invalid_canvas", "invalid canvas: canvas size 100×96 is not a multiple of the model stride 16; use "
                               "96×96 or pass size_policy='round'")
    assert error(client.get("/api/jobs/jnope")) == (404, "job_not_found", "no job 'jnope' (unknown or long finished)")
    r = client.post(f"/api/projects/{pid}/jobs", json={"settings": {**SETTINGS, "steps": 0}})
    assert error(r)[:2] == (422, "invalid_request") and "settings.steps" in error(r)[2]
    for field, bad in (("lock_blend", 1.5), ("true_cfg", 0.5), ("canvas_cfg", 0.5)):
        r = client.post(f"/api/projects/{pid}/jobs", json={"settings": {**SETTINGS, field: bad}})
        assert error(r)[:2] == (422, "invalid_request") and f"settings.{field}" in error(r)[2]


def test_result_as_locked_background(client):
    pid = _ready_project(client)
    job = wait_job(client, _submit(client, pid)["id"])
    project = client.post(f"/api/projects/{pid}/background-from-result", json={"job_id": job["id"]}).json()
    bg = project["canvas"]["background"]
    assert bg["locked"] and bg["category"] == "background" and bg["image_size"] == [128, 96]
    assert bg["placement"] == {"x": 0.0, "y": 0.0, "scale": 1.0, "rotation": 0.0, "flip_h": False, "flip_v": False}
    assert len(project["canvas"]["layers"]) == 2
    assert error(client.post(f"/api/projects/{pid}/background-from-result", json={"job_id": "jx"})) == (
        404, "result_not_found", f"project {pid!r} has no result of job 'jx'")
