"""Every error the studio API returns is JSON: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..canvas.errors import ImageError, LimitError, Refusal

log = logging.getLogger("layercraft.studio")


class ApiError(Exception):
    """An error with an HTTP status, a stable machine-readable code and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _explain_validation(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def refusal_status(err: Refusal) -> tuple[int, str]:
    """The HTTP status and error code for a typed refusal from the canvas package."""
    if isinstance(err, LimitError):
        return 413, "over_limit"
    if isinstance(err, ImageError):
        return 415, "bad_image"
    return 422, "invalid_input"


def explain_pydantic(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors(include_url=False))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(error_body(err.code, err.message), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", _explain_validation(err)), status_code=422)

    @app.exception_handler(Refusal)
    async def _refusal(_: Request, err: Refusal) -> JSONResponse:
        status, code = refusal_status(err)
        return JSONResponse(error_body(code, str(err)), status_code=status)

    @app.exception_handler(ValidationError)
    async def _model(_: Request, err: ValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_input", f"invalid value: {explain_pydantic(err)}"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = (err.headers or {}).get("x-error-code") or _HTTP_CODES.get(err.status_code, "http_error")
        message = f"no such endpoint: {request.method} {request.url.path}" if err.status_code == 404 else str(
            err.detail)
        return JSONResponse(error_body(code, message), status_code=err.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(error_body("internal_error", f"internal error: {type(err).__name__}: {err}"),
                            status_code=500)
