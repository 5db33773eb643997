"""The studio in headless Chromium with real photos: people from a photo, photos placed on a layout photo."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from studio_fake_pipeline import FakePipeline  # noqa: E402
from studio_live_server import CHROMIUM, CHROMIUM_ARGS, ensure_frontend_built, live_studio  # noqa: E402

playwright_sync = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing (the set-up installs it: apt-get install -y chromium)", allow_module_level=True)


def test_people_from_photo_and_photos_on_layout_buttons(tmp_path, astronaut, grace):
    two = Image.new("RGB", (1024, 600), (200, 200, 200))
    two.paste(astronaut, (0, 88))
    two.paste(grace, (512, 0))
    layout = Image.new("RGB", (512, 512), (90, 120, 160))
    layout.paste(grace.resize((200, 234)), (20, 200))
    layout.paste(astronaut.resize((220, 220)), (280, 240))
    files = {}
    for name, img in (("two.jpg", two), ("layout.jpg", layout), ("astronaut.jpg", astronaut), ("grace.jpg", grace)):
        img.save(tmp_path / name, quality=92)
        files[name] = str(tmp_path / name)
    ensure_frontend_built()
    with playwright_sync.sync_playwright() as p, live_studio(tmp_path / "data", FakePipeline()) as url:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            state = lambda: page.evaluate("studio.state()")  # noqa: E731
            page.set_input_files("#people-from-photo", files["two.jpg"])
            page.wait_for_function("studio.state().canvas.layers.length === 2", timeout=60_000)
            assert all(la["category"] == "person" for la in state()["canvas"]["layers"])
            page.set_input_files("#layout-photo", files["layout.jpg"])
            assert page.locator("#layout-name").inner_text() == "layout: layout.jpg"
            page.set_input_files("#photos-on-layout", [files["grace.jpg"], files["astronaut.jpg"]])
            page.wait_for_function("studio.state().canvas.layers.length === 4", timeout=60_000)
            placed = {la["name"]: la for la in state()["canvas"]["layers"][2:]}
            assert set(placed) == {"grace.jpg", "astronaut.jpg"}
            # grace goes on the layout's left face, the astronaut on the right one
            x = {n: la["placement"]["x"] for n, la in placed.items()}
            assert x["grace.jpg"] < x["astronaut.jpg"]
            assert page.locator("#errors").inner_text().strip() == ""
        finally:
            browser.close()
