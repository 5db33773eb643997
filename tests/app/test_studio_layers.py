from studio_helpers import client_fixture, error, new_project, png, upload  # noqa: F401


def _two_layers(client) -> tuple[str, str, str]:
    pid = new_project(client)["id"]
    a = upload(client, pid, png(40, 40, (255, 0, 0, 255)), name="red.png")["layer_id"]
    b = upload(client, pid, png(40, 40, (0, 0, 255, 255)), name="blue.png")["layer_id"]
    return pid, a, b


def _ids(project: dict) -> list[str]:
    return [layer["id"] for layer in project["canvas"]["layers"]]


def test_patch_placement_lock_visibility_descriptor(client):
    pid, a, _ = _two_layers(client)
    r = client.patch(f"/api/projects/{pid}/layers/{a}", json={
        "placement": {"x": 5, "rotation": 30, "flip_h": True}, "locked": True, "visible": False,
        "descriptor": "a man in a red coat", "name": "Bob"})
    layer = r.json()["canvas"]["layers"][0]
    assert layer["placement"]["x"] == 5 and layer["placement"]["rotation"] == 30 and layer["placement"]["flip_h"]
    assert layer["placement"]["y"] == 28  # untouched fields stay
    assert (layer["locked"], layer["visible"], layer["descriptor"], layer["name"]) == (
        True, False, "a man in a red coat", "Bob")
    layer = client.patch(f"/api/projects/{pid}/layers/{a}", json={"descriptor": ""}).json()["canvas"]["layers"][0]
    assert layer["descriptor"] is None


def test_bad_patch_values_are_refused_and_change_nothing(client):
    pid, a, _ = _two_layers(client)
    before = client.get(f"/api/projects/{pid}").json()["canvas"]
    r = client.patch(f"/api/projects/{pid}/layers/{a}", json={"placement": {"scale": 0}})
    assert error(r) == (422, "invalid_layer",
                        f"layer {a!r}: scale: Value error, placement.scale must be in [0.001, 256], got 0")
    r = client.patch(f"/api/projects/{pid}/layers/{a}", json={"lockd": True})
    assert error(r) == (422, "invalid_request", "invalid request: lockd: Extra inputs are not permitted")
    r = client.patch(f"/api/projects/{pid}/layers/nope", json={"locked": True})
    assert error(r) == (404, "layer_not_found", f"project {pid!r} has no layer 'nope'")
    assert client.get(f"/api/projects/{pid}").json()["canvas"] == before


def test_z_order_forward_backward_front_back(client):
    pid, a, b = _two_layers(client)
    c = upload(client, pid, png(), name="c.png")["layer_id"]
    assert _ids(client.get(f"/api/projects/{pid}").json()) == [a, b, c]
    assert _ids(client.patch(f"/api/projects/{pid}/layers/{a}", json={"z": "forward"}).json()) == [b, a, c]
    assert _ids(client.patch(f"/api/projects/{pid}/layers/{c}", json={"z": "back"}).json()) == [c, b, a]
    assert _ids(client.patch(f"/api/projects/{pid}/layers/{c}", json={"z": "front"}).json()) == [b, a, c]
    assert _ids(client.patch(f"/api/projects/{pid}/layers/{c}", json={"z": "backward"}).json()) == [b, c, a]
    assert _ids(client.patch(f"/api/projects/{pid}/layers/{b}", json={"z": "backward"}).json()) == [b, c, a]


def test_duplicate_sits_above_and_delete_can_be_undone_by_state(client):
    pid, a, b = _two_layers(client)
    out = client.post(f"/api/projects/{pid}/layers/{a}/duplicate")
    assert out.status_code == 201
    copy = out.json()["layer_id"]
    layers = out.json()["project"]["canvas"]["layers"]
    assert _ids(out.json()["project"]) == [a, copy, b]
    assert layers[1]["image_id"] == layers[0]["image_id"]
    assert layers[1]["placement"]["x"] == layers[0]["placement"]["x"] + 16
    before = client.get(f"/api/projects/{pid}").json()
    after = client.delete(f"/api/projects/{pid}/layers/{a}").json()
    assert _ids(after) == [copy, b]
    # undo = send the earlier state back: the deleted layer's pixels are still held by the project
    restored = client.put(f"/api/projects/{pid}", json={"canvas": before["canvas"], "settings": before["settings"]})
    assert restored.status_code == 200 and restored.json()["canvas"] == before["canvas"]


def test_put_state_refuses_unknown_images_and_duplicate_ids(client):
    pid, a, _ = _two_layers(client)
    state = client.get(f"/api/projects/{pid}").json()
    doc = {"canvas": state["canvas"], "settings": state["settings"]}
    doc["canvas"]["layers"][0]["image_id"] = "i00000000"
    assert error(client.put(f"/api/projects/{pid}", json=doc)) == (
        422, "unknown_image", f"layer {a!r} refers to unknown image 'i00000000'")
    state = client.get(f"/api/projects/{pid}").json()
    doc = {"canvas": state["canvas"], "settings": state["settings"]}
    doc["canvas"]["layers"][1]["id"] = a
    status, code, message = error(client.put(f"/api/projects/{pid}", json=doc))
    assert (status, code) == (422, "invalid_canvas") and f"duplicate layer ids: [{a!r}]" in message
    doc["settings"]["scheme"] = "bogus"
    status, code, message = error(client.put(f"/api/projects/{pid}", json=doc))
    assert (status, code) == (422, "invalid_request") and message.startswith("invalid request: settings.scheme: ")


def test_background_cannot_be_reordered_or_duplicated(client):
    pid = new_project(client)["id"]
    bg = upload(client, pid, png(), background=True)["layer_id"]
    assert error(client.patch(f"/api/projects/{pid}/layers/{bg}", json={"z": "front"})) == (
        409, "background_fixed", "the background layer always stays behind the other layers")
    assert error(client.post(f"/api/projects/{pid}/layers/{bg}/duplicate")) == (
        409, "background_fixed", "the background layer cannot be duplicated")
    assert client.delete(f"/api/projects/{pid}/layers/{bg}").json()["canvas"]["background"] is None
