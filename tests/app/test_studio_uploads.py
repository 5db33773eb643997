import io

from PIL import Image
from studio_helpers import client_fixture, error, new_project, png, studio_client, upload  # noqa: F401

from layercraft.canvas.images import MAX_PIXELS


def test_upload_becomes_rgba_layer_fitted_on_canvas(client):
    pid = new_project(client)["id"]
    out = upload(client, pid, png(200, 100, (0, 255, 0, 255), fmt="JPEG"), name="subject.jpg")
    layer = out["project"]["canvas"]["layers"][0]
    assert out["layer_id"] == layer["id"]
    assert layer["image_size"] == [200, 100]
    assert layer["locked"] is False and layer["category"] == "person"
    # fitted inside 60% of the 128×96 canvas and centred
    assert abs(layer["placement"]["scale"] - 0.384) < 1e-6
    r = client.get(f"/api/projects/{pid}/images/{layer['image_id']}.png")
    img = Image.open(io.BytesIO(r.content))
    assert r.headers["content-type"] == "image/png" and img.mode == "RGBA" and img.size == (200, 100)


def test_type_is_sniffed_from_bytes_not_the_name(client):
    pid = new_project(client)["id"]
    out = upload(client, pid, png(10, 10), name="photo.txt")
    assert out["project"]["canvas"]["layers"][0]["image_size"] == [10, 10]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("looks.png", b"GIF89a not really", "image/png")})
    assert error(r) == (415, "bad_image", "looks.png: not a recognised image format (corrupt or not an image)")


def test_non_image_is_refused_with_the_decoders_message(client):
    pid = new_project(client)["id"]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("notes.png", b"hello, world", "image/png")})
    assert error(r) == (415, "bad_image", "notes.png: not a recognised image format (corrupt or not an image)")


def test_truncated_image_is_refused(client):
    pid = new_project(client)["id"]
    data = png(64, 64)
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("cut.png", data[: len(data) // 2], "image/png")})
    status, code, message = error(r)
    assert (status, code) == (415, "bad_image") and message.startswith("cut.png: ")


def test_decompression_bomb_is_refused_before_decoding(client):
    pid = new_project(client)["id"]
    buf = io.BytesIO()
    Image.new("1", (4100, 4100)).save(buf, format="PNG")  # tiny file, 16.8 M pixels
    assert len(buf.getvalue()) < 100_000
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
    assert error(r) == (415, "bad_image", f"bomb.png: image is 4100×4100 = 16810000 pixels, over the limit of "
                                          f"{MAX_PIXELS} (decompression bomb guard)")


def test_oversized_upload_is_refused(tmp_path):
    with studio_client(tmp_path, max_upload_bytes=100 * 1024) as c:
        pid = new_project(c)["id"]
        big = b"\x89PNG" + bytes(300 * 1024)
        r = c.post(f"/api/projects/{pid}/layers", files={"file": ("big.png", big, "image/png")})
        assert error(r) == (413, "upload_too_large", "upload is larger than the 100 KiB limit")
        # just over the cap but within the declared-length slack: caught while reading
        r = c.post(f"/api/projects/{pid}/layers", files={"file": ("big.png", bytes(100 * 1024 + 1), "image/png")})
        assert error(r) == (413, "upload_too_large", "upload 'big.png' is larger than the 100 KiB limit")
        assert c.get(f"/api/projects/{pid}").json()["canvas"]["layers"] == []


def test_empty_upload_and_unknown_project(client):
    pid = new_project(client)["id"]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("e.png", b"", "image/png")})
    assert error(r) == (400, "empty_upload", "upload 'e.png' is empty")
    r = client.post("/api/projects/pdeadbeef/layers", files={"file": ("a.png", png(), "image/png")})
    assert error(r) == (404, "project_not_found", "no project 'pdeadbeef'")
    r = client.get("/api/projects/../../etc/passwd")
    assert r.status_code == 404 and "error" in r.json()


def test_background_upload_covers_canvas_and_is_locked(client):
    pid = new_project(client, 128, 96)["id"]
    out = upload(client, pid, png(64, 64), name="bg.png", background=True)
    bg = out["project"]["canvas"]["background"]
    assert bg["locked"] is True and bg["category"] == "background"
    assert bg["placement"]["scale"] == 2.0 and bg["placement"]["y"] == -16.0
    assert out["project"]["canvas"]["layers"] == []


def test_background_removal_unavailable_says_what_to_install(client):
    info = client.get("/api/info").json()
    assert info["background_removal"] == {"available": False,
                                          "reason": "background removal needs a segmentation backend: pip install "
                                                    "rembg"}
    pid = new_project(client)["id"]
    r = client.post(f"/api/projects/{pid}/layers", files={"file": ("a.png", png(), "image/png")},
                    data={"remove_background": "true"})
    assert error(r) == (501, "background_removal_unavailable",
                        "background removal needs a segmentation backend: pip install rembg")


def test_background_removal_uses_the_installed_backend(tmp_path):
    def clear_left_half(img: Image.Image) -> Image.Image:
        out = img.copy()
        out.paste((0, 0, 0, 0), (0, 0, img.width // 2, img.height))
        return out

    with studio_client(tmp_path, remover=clear_left_half) as c:
        assert c.get("/api/info").json()["background_removal"]["available"] is True
        pid = new_project(c)["id"]
        layer = upload(c, pid, png(20, 10), remove_background=True)["project"]["canvas"]["layers"][0]
        img = Image.open(io.BytesIO(c.get(f"/api/projects/{pid}/images/{layer['image_id']}.png").content))
        assert img.getpixel((2, 5))[3] == 0 and img.getpixel((15, 5))[3] == 255
