"""The studio's FastAPI app: API routes, JSON errors, and the built front end at `/`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from .background_removal import Remover, detect_remover
from .config import StudioConfig
from .context import Studio
from .errors import error_body, install_error_handlers
from .jobs import GenerationService
from .routes import files, info, jobs, layers, photos, projects, upscale
from .schemas import Settings
from .security import StudioGuard
from .store import ProjectStore

STATIC = Path(__file__).parent / "static"
_DETECT = object()


def create_app(config: StudioConfig, service: GenerationService, *, remover: Remover | None | object = _DETECT,
               static_dir: Path = STATIC) -> FastAPI:
    """The app; its lifespan starts and stops the generation worker and the autosaver."""
    store = ProjectStore(config.data_dir, config.autosave_delay_s, Settings(**config.new_project_settings))
    chosen = detect_remover() if remover is _DETECT else remover

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.start()
        service.start()
        try:
            yield
        finally:
            service.stop()
            store.stop()

    app = FastAPI(title="layercraft studio", lifespan=lifespan)
    app.state.studio = Studio(config=config, store=store, service=service, remover=chosen)
    install_error_handlers(app)
    app.add_middleware(StudioGuard, config=config)  # Host, Origin, studio header, body size: see security.py
    for module in (info, projects, files, layers, jobs, photos, upscale):
        app.include_router(module.router)
    if (static_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=static_dir, html=True), name="static")
    else:
        @app.get("/")
        def _no_frontend() -> JSONResponse:
            return JSONResponse(error_body("frontend_not_built", "the studio front end is not built: run "
                                           "`npm ci && npm run build` in src/layercraft/app/frontend"),
                                status_code=503)
    return app
