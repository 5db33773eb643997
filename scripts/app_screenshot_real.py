"""docs/app/studio.png with a real result: the studio serving the embedded default model renders the
bundled four-friends canvas, and headless Chromium photographs the editor.

    .venv/bin/python scripts/app_screenshot_real.py [--model default] [--out docs/app/studio.png]

The project starts from the model's measured settings, as every new studio project does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "app"))
from studio_live_server import CHROMIUM, CHROMIUM_ARGS, _free_port, ensure_frontend_built  # noqa: E402

from layercraft.app import GenerationService, StudioConfig, create_app  # noqa: E402
from layercraft.app.cli import studio_settings  # noqa: E402
from layercraft.app.model import pipeline_loader  # noqa: E402
from layercraft.examples import example_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=Path("docs/app/studio.png"))
    args = ap.parse_args()
    ensure_frontend_built()

    import threading
    import time

    import uvicorn

    data = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    service = GenerationService(pipeline_loader(args.model, "cpu"), queue_size=2, timeout_s=600,
                                model_name=args.model)
    config = StudioConfig(data_dir=data, autosave_delay_s=0.1, new_project_settings=studio_settings(args.model))
    app = create_app(config, service, remover=None)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        with example_path().open("rb") as f:
            pid = httpx.post(f"{url}/api/projects/import", files={"file": ("four-friends.lcp", f)},
                             headers={"X-Layercraft-Studio": "1"}).json()["id"]  # as the studio page sends it
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.goto(f"{url}/?project={pid}")
            page.wait_for_selector("body[data-ready=true]")
            page.click("#generate")
            page.wait_for_selector("#result:not([hidden])", timeout=600_000)
            page.wait_for_timeout(500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
