"""What the studio checks on every request before any route runs (pure ASGI, so nothing is buffered).

The studio is a local, single-user server: it has no accounts and trusts whoever can reach it. These
checks keep other web pages the user visits from using it through the browser:

- **Host**: the Host header must name this machine (127.0.0.1, localhost, ::1, or a host given with
  `--allow-host`); a page on another domain that re-points its name at 127.0.0.1 (DNS rebinding) is
  refused.
- **Origin**: when a browser sends Origin, it must be this server's own origin; `null` is refused.
- **State changes** (POST, PUT, PATCH, DELETE) must carry the header `X-Layercraft-Studio: 1`. A page
  on another origin can only send it after a CORS preflight, which the studio never grants, and an
  HTML form cannot send it at all. `Sec-Fetch-Site`, when sent, must be `same-origin` or `none`.
- **Body size**: each request body is counted while it streams and refused with 413 as soon as it
  passes its cap (the project limit for imports, the upload limit for images, the JSON limit for
  everything else); a declared Content-Length over the cap is refused before anything is read.
"""

from __future__ import annotations

import json
import re

from fastapi import HTTPException

from .config import StudioConfig
from .errors import error_body

STUDIO_HEADER = "x-layercraft-studio"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small form fields beside a file
_IMPORT = re.compile(r"/api/projects/import")
_UPLOAD = re.compile(r"/api/(?:projects/[^/]+/(?:layers|people|from-photos)|upscale)")  # image uploads
_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?")


def human(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def host_name(value: str) -> str | None:
    """The host name in a Host header value ('127.0.0.1:8765', '[::1]:80', 'localhost'), lower-cased."""
    m = _HOST.fullmatch(value.strip())
    if m is None:
        return None
    return (m.group("v6") or m.group("name")).lower().rstrip(".")


class StudioGuard:
    def __init__(self, app, config: StudioConfig) -> None:
        self.app = app
        self.config = config
        self.hosts = config.hosts()

    def body_cap(self, method: str, path: str) -> tuple[int, str, str]:
        """(cap in bytes, error code, message) for the request's body."""
        if method == "POST" and _IMPORT.fullmatch(path):
            return self.config.max_project_bytes + FORM_OVERHEAD, "upload_too_large", (
                f"upload is larger than the {human(self.config.max_project_bytes)} limit")
        if method == "POST" and _UPLOAD.fullmatch(path):
            return self.config.max_upload_bytes + FORM_OVERHEAD, "upload_too_large", (
                f"upload is larger than the {human(self.config.max_upload_bytes)} limit")
        return self.config.max_json_bytes, "body_too_large", (
            f"the request body is larger than the {human(self.config.max_json_bytes)} limit")

    def refusal(self, method: str, headers: list[tuple[str, str]]) -> tuple[int, str, str] | None:
        """(status, code, message) when the request may not be served, else None."""
        def one(name: str) -> str | None:
            values = [v for k, v in headers if k == name]
            if len(values) > 1:
                raise ValueError(name)
            return values[0] if values else None

        try:
            host, origin, fetch_site, marker = (one(n) for n in ("host", "origin", "sec-fetch-site", STUDIO_HEADER))
        except ValueError as err:
            return 400, "bad_request", f"the request has more than one {err} header"
        if host is None or host_name(host) not in self.hosts:
            return 403, "forbidden_host", ("the studio only answers requests addressed to this machine "
                                           f"(Host {host!r} is not one of {', '.join(sorted(self.hosts))})")
        if origin is not None and origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
            return 403, "forbidden_origin", f"requests from {origin!r} may not use the studio"
        if method in UNSAFE:
            if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
                return 403, "forbidden_origin", f"cross-site requests may not change the studio ({fetch_site})"
            if marker != "1":
                return 403, "missing_studio_header", ("changes must come from the studio page: the request lacks "
                                                      "the header X-Layercraft-Studio: 1")
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        method = scope["method"]
        refused = self.refusal(method, headers)
        cap, cap_code, cap_message = self.body_cap(method, scope["path"])
        if refused is None:
            declared = [v for k, v in headers if k == "content-length"]
            if declared and (not declared[0].strip().isdigit() or len(declared[0]) > 18):
                refused = 400, "bad_request", "the Content-Length header is not a number"
            elif declared and int(declared[0]) > cap:
                refused = 413, cap_code, cap_message
        if refused is not None:
            status, code, message = refused
            body = json.dumps(error_body(code, message)).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                       (b"connection", b"close")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise HTTPException(413, cap_message, headers={"x-error-code": cap_code})
            return message

        return await self.app(scope, counted, send)
