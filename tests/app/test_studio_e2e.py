"""The studio in real headless Chromium: compose, lock, reorder, generate, undo, save, reload, reopen."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_fake_pipeline import FakePipeline
from studio_live_server import CHROMIUM, CHROMIUM_ARGS, ensure_frontend_built, live_studio

from layercraft.canvas import load_project

playwright_sync = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing (the set-up installs it: apt-get install -y chromium)", allow_module_level=True)

SCREENSHOT = os.environ.get("LAYERCRAFT_STUDIO_SCREENSHOT")  # where to keep the final editor screenshot


def subject(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> Path:
    """An opaque ellipse on a transparent background, like a cut-out subject."""
    from PIL import ImageDraw

    img = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=(*rgb, 255))
    ImageDraw.Draw(img).rectangle((size[0] // 3, size[1] // 4, 2 * size[0] // 3, size[1] // 3), fill=(255, 230, 200))
    img.save(path)
    return path


def layer(state: dict, layer_id: str) -> dict:
    return next(la for la in state["canvas"]["layers"] if la["id"] == layer_id)


def centre(la: dict) -> tuple[float, float]:
    p, (w, h) = la["placement"], la["image_size"]
    return p["x"] + w * p["scale"] / 2, p["y"] + h * p["scale"] / 2


def drag(page, start: dict, dx: float, dy: float) -> None:
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(start["x"] + dx / 2, start["y"] + dy / 2, steps=4)
    page.mouse.move(start["x"] + dx, start["y"] + dy, steps=4)
    page.mouse.up()


def stage_pixels(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator("#stage").screenshot())).convert("RGB"), np.int16)


def same_stage(page, expected: np.ndarray) -> bool:
    for _ in range(40):  # layer images load asynchronously
        now = stage_pixels(page)
        if now.shape == expected.shape and np.abs(now - expected).max() <= 2:
            return True
        page.wait_for_timeout(100)
    return False


def without_image_ids(canvas: dict) -> dict:
    return {**canvas, "layers": [{k: v for k, v in la.items() if k != "image_id"} for la in canvas["layers"]]}


@pytest.fixture(scope="module")
def browser():
    ensure_frontend_built()
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_compose_generate_undo_save_reload(browser, tmp_path):
    red = subject(tmp_path / "red.png", (160, 200), (200, 40, 40))
    blue = subject(tmp_path / "blue.png", (140, 180), (40, 70, 200))
    with live_studio(tmp_path / "data", FakePipeline(step_delay=0.08)) as url:
        page = browser.new_page(viewport={"width": 1500, "height": 900}, accept_downloads=True)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        state = lambda: page.evaluate("studio.state()")  # noqa: E731
        to_page = lambda x, y: page.evaluate(f"studio.toPage({x}, {y})")  # noqa: E731

        page.fill("#prompt", "two friends in a park")
        page.locator("#steps").fill("6")
        page.locator("#steps").press("Tab")

        # upload two subjects
        page.set_input_files("#add-layer", [str(red), str(blue)])
        page.wait_for_function("studio.state().canvas.layers.length === 2")
        a, b = (la["id"] for la in state()["canvas"]["layers"])

        # move the first (by dragging it where the second does not cover it)
        before = layer(state(), a)["placement"]
        drag(page, to_page(before["x"] + 20, before["y"] + 100), 60, 30)
        moved = layer(state(), a)["placement"]
        scale = page.evaluate("studio.toPage(100, 0).x - studio.toPage(0, 0).x") / 100
        assert abs(moved["x"] - (before["x"] + 60 / scale)) <= 2 and abs(moved["y"] - (before["y"] + 30 / scale)) <= 2

        # resize the second with the transformer's bottom-right anchor
        lb = layer(state(), b)
        page.mouse.click(**to_page(*centre(lb)))
        assert state()["selected"] == b
        p, (w, h) = lb["placement"], lb["image_size"]
        drag(page, to_page(p["x"] + w * p["scale"], p["y"] + h * p["scale"]), 40, 50)
        assert layer(state(), b)["placement"]["scale"] > p["scale"] * 1.1

        # lock the first: in the panel and on the canvas; it can no longer be dragged
        page.click(f"li[data-layer={a}] button.lock")
        assert layer(state(), a)["locked"] is True
        assert page.locator(f"li[data-layer={a}]").get_attribute("class").split().count("locked") == 1
        assert page.locator(f"li[data-layer={a}] .lock-badge").inner_text() == "LOCKED"
        locked_at = layer(state(), a)["placement"]
        drag(page, to_page(locked_at["x"] + 20, locked_at["y"] + 100), 50, 0)
        assert layer(state(), a)["placement"] == locked_at

        # z-order: the locked layer to the front
        page.click(f"li[data-layer={a}]")
        page.click("[data-z=front]")
        assert [la["id"] for la in state()["canvas"]["layers"]] == [b, a]

        # generate: progress, then the result beside the canvas and in the history strip
        page.click("#generate")
        page.wait_for_function("document.querySelector('#job-status').textContent.startsWith('Step')")
        page.wait_for_selector("#preview:not([hidden])")
        page.wait_for_selector("#result:not([hidden])")
        page.wait_for_function("document.querySelector('#job-status').textContent === 'Done'")
        assert page.locator("#history img").count() == 1
        assert page.evaluate("document.querySelector('#progress').value") == 6

        # undo / redo with the keyboard
        page.mouse.click(**to_page(4, 4))  # focus the canvas, select nothing
        page.keyboard.press("Control+z")
        assert [la["id"] for la in state()["canvas"]["layers"]] == [a, b]
        page.keyboard.press("Control+Shift+z")
        assert [la["id"] for la in state()["canvas"]["layers"]] == [b, a]
        page.keyboard.press("Control+z")
        assert [la["id"] for la in state()["canvas"]["layers"]] == [a, b]

        # save the project file
        page.evaluate("studio.flush()")
        final = state()
        with page.expect_download() as download:
            page.click("#save-project")
        saved = tmp_path / "saved.lcp"
        download.value.save_as(saved)
        canvas = load_project(saved)
        assert [la.id for la in canvas.layers] == [a, b] and canvas.prompt == "two friends in a park"
        assert canvas.layer(a).locked and not canvas.layer(b).locked
        assert canvas.layer(b).placement.model_dump() == layer(final, b)["placement"]
        picture = stage_pixels(page)

        # reload the page: the autosaved project comes back as it was
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        again = state()
        assert again["canvas"] == final["canvas"] and again["settings"] == final["settings"]
        assert len(again["history"]) == 1
        assert same_stage(page, picture)

        # open the saved file as a new project: same canvas, same picture
        page.set_input_files("#load-project", str(saved))
        page.wait_for_function(f"studio.state().projectId !== '{final['projectId']}'")
        assert without_image_ids(state()["canvas"]) == without_image_ids(final["canvas"])
        assert same_stage(page, picture)

        # a server error is shown in the UI with the server's message
        bad = tmp_path / "notes.png"
        bad.write_bytes(b"not an image at all")
        page.set_input_files("#add-layer", str(bad))
        page.wait_for_selector(".error")
        assert "not a recognised image format" in page.locator(".error").first.inner_text()
        assert len(state()["canvas"]["layers"]) == 2

        if SCREENSHOT:
            page.goto(f"{url}/?project={final['projectId']}")
            page.wait_for_selector("body[data-ready=true]")
            page.wait_for_selector("#result:not([hidden])")
            page.click(f"li[data-layer={a}]")
            page.click("[data-z=front]")  # as it was generated
            page.wait_for_timeout(500)
            Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT)
        page.close()


def test_chromium_path_constant_is_debian_chromium():
    assert shutil.which("chromium") in (str(CHROMIUM), None) or CHROMIUM.is_file()
