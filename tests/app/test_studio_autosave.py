import time

from studio_helpers import error, new_project, png, studio_client, upload, wait_job


def test_state_settings_and_history_survive_a_restart(tmp_path):
    with studio_client(tmp_path) as c:
        pid = new_project(c, 64, 64, prompt="a cat")["id"]
        a = upload(c, pid, png(20, 20))["layer_id"]
        c.patch(f"/api/projects/{pid}/layers/{a}", json={"locked": True, "descriptor": "tabby"})
        job = c.post(f"/api/projects/{pid}/jobs", json={"settings": {"seed": 3, "steps": 2}}).json()
        wait_job(c, job["id"])
        time.sleep(0.1)
        before = c.get(f"/api/projects/{pid}").json()
        result = c.get(before["history"][0]["result_url"]).content
    with studio_client(tmp_path) as c:  # a new server on the same data folder
        assert c.get("/api/projects").json() == [{"id": pid, "name": "untitled"}]
        after = c.get(f"/api/projects/{pid}").json()
        for part in ("canvas", "settings", "history"):
            a_, b_ = after[part], before[part]
            if part == "canvas":
                for la, lb in zip(a_["layers"], b_["layers"], strict=True):
                    la.pop("image_id"), lb.pop("image_id")
            assert a_ == b_
        assert c.get(after["history"][0]["result_url"]).content == result


def test_unknown_endpoint_and_bad_json_are_json_errors(tmp_path):
    with studio_client(tmp_path) as c:
        assert error(c.get("/api/nothing")) == (404, "not_found", "no such endpoint: GET /api/nothing")
        r = c.post("/api/projects", content=b"{", headers={"content-type": "application/json"})
        assert error(r)[:2] == (422, "invalid_request")
        r = c.post("/api/projects", json={"width": 0})
        assert error(r) == (422, "invalid_request", "invalid request: width: Input should be greater than 0")
        assert error(c.get("/")) == (503, "frontend_not_built", "the studio front end is not built: run `npm ci && "
                                                               "npm run build` in src/layercraft/app/frontend")
