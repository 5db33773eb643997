"""Open projects, kept in memory and autosaved to the data folder a moment after each change.

On disk, each project is a folder `projects/<id>/` holding `project.lcp` (the same versioned zip as
the CLI's), `state.json` (name, settings, result history) and `results/<job id>.png`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from ..canvas import Canvas, CanvasError, load_project, save_project
from ..canvas.images import load_image
from .document import Document, Result, explain, new_id
from .errors import ApiError
from .schemas import HistoryEntry, Settings

log = logging.getLogger("layercraft.studio")
PROJECT_ID = re.compile(r"p[0-9a-f]{8}")  # always used with fullmatch
AUTOSAVE_PNG_LEVEL = 1  # fast: a large project saves in about a second, so a shutdown never waits long


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write beside the target and rename; a failure (or an exception) leaves no temp file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text_atomic(path: Path, text: str) -> None:
    _write_bytes_atomic(path, text.encode("utf-8"))


def remove_stale_temp_files(root: Path) -> int:
    """Delete the `.NAME*.tmp` files a killed save left in the project folders; the count removed.

    Saves write such a file and rename it into place, so one that still exists when the studio
    starts belongs to a save that never finished and holds nothing that was not saved before.
    """
    removed = 0
    for folder in (p for p in root.iterdir() if PROJECT_ID.fullmatch(p.name) and p.is_dir()):
        for tmp in [*folder.glob(".*.tmp"), *folder.glob("results/.*.tmp")]:
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


class ProjectStore:
    def __init__(self, data_dir: Path, autosave_delay_s: float = 0.3, new_settings: Settings | None = None) -> None:
        self.root = Path(data_dir) / "projects"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._docs: dict[str, Document] = {}
        self._dirty: dict[str, float] = {}  # project id → time of the last change
        self._saved_results: set[tuple[str, str]] = set()
        self._delay = autosave_delay_s
        self._new_settings = new_settings or Settings()
        self._wake = threading.Condition(self.lock)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()  # one save at a time: autosave and an import's immediate save

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        removed = remove_stale_temp_files(self.root)
        if removed:
            log.info("removed %d temp files left by interrupted saves", removed)
        self._stopping = False
        self._thread = threading.Thread(target=self._autosave_loop, name="studio-autosave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self.lock:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    # ---- access -------------------------------------------------------------------------------
    def create(self, canvas: Canvas, name: str) -> Document:
        with self.lock:
            doc = Document.from_canvas(new_id("p", self._ids()), name, canvas)
            doc.settings = self._new_settings.model_copy()
            self._docs[doc.id] = doc
            self.changed(doc)
            return doc

    def _ids(self) -> set[str]:
        on_disk = {p.name for p in self.root.iterdir() if PROJECT_ID.fullmatch(p.name)}
        return on_disk | set(self._docs)

    def list(self) -> list[dict]:
        with self.lock:
            out = []
            for pid in sorted(self._ids()):
                doc = self._docs.get(pid)
                name = doc.name if doc is not None else self._read_state(pid).get("name", "untitled")
                out.append({"id": pid, "name": name})
            return out

    def get(self, project_id: str) -> Document:
        with self.lock:
            doc = self._docs.get(project_id)
            if doc is None:
                doc = self._load(project_id)
                self._docs[project_id] = doc
            return doc

    def changed(self, doc: Document) -> None:
        """Note a change; the autosaver writes the project once edits pause for `autosave_delay_s`."""
        with self.lock:
            self._dirty[doc.id] = time.monotonic()
            self._wake.notify_all()

    # ---- disk ---------------------------------------------------------------------------------
    def _read_state(self, project_id: str) -> dict:
        try:
            return json.loads((self.root / project_id / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def _load(self, project_id: str) -> Document:
        folder = self.root / project_id
        if not PROJECT_ID.fullmatch(project_id) or not (folder / "project.lcp").is_file():
            raise ApiError(404, "project_not_found", f"no project {project_id!r}")
        try:
            canvas = load_project(folder / "project.lcp")
        except CanvasError as err:
            message = f"the autosaved project {project_id!r} is unreadable: {err}"
            raise ApiError(409, "autosave_unreadable", message) from None
        state = self._read_state(project_id)
        doc = Document.from_canvas(project_id, str(state.get("name", "untitled")), canvas)
        try:
            doc.settings = Settings(**state.get("settings", {}))
            for raw in state.get("history", []):
                entry = HistoryEntry(**raw)
                png = folder / "results" / f"{entry.job_id}.png"
                if png.is_file():
                    load_image(png, name=str(png))
                    doc.history.append(Result(entry, png.read_bytes()))
                    self._saved_results.add((project_id, entry.job_id))
        except (ValidationError, CanvasError, TypeError) as err:
            detail = explain(err) if isinstance(err, ValidationError) else str(err)
            log.warning("project %s: ignoring unreadable settings/history (%s)", project_id, detail)
        return doc

    def _save(self, project_id: str) -> None:
        with self._save_lock:
            self._save_unlocked(project_id)

    def _save_unlocked(self, project_id: str) -> None:
        with self.lock:
            doc = self._docs.get(project_id)
            if doc is None:
                return
            canvas = doc.snapshot()
            state = {"name": doc.name, "settings": doc.settings.model_dump(),
                     "history": [r.entry.model_dump() for r in doc.history]}
            results = [r for r in doc.history if (project_id, r.entry.job_id) not in self._saved_results]
        folder = self.root / project_id
        (folder / "results").mkdir(parents=True, exist_ok=True)
        for r in results:
            _write_bytes_atomic(folder / "results" / f"{r.entry.job_id}.png", r.png)
            self._saved_results.add((project_id, r.entry.job_id))
        save_project(canvas, folder / "project.lcp", compress_level=AUTOSAVE_PNG_LEVEL)
        _write_text_atomic(folder / "state.json", json.dumps(state, indent=2))

    def save_now(self, project_id: str) -> None:
        """Write the project at once (an import is on disk before the request that made it returns)."""
        with self.lock:
            self._dirty.pop(project_id, None)
        self._save(project_id)

    def flush(self) -> None:
        """Write every project with unsaved changes now."""
        with self.lock:
            pending = list(self._dirty)
            self._dirty.clear()
        for pid in pending:
            self._save_logged(pid)

    def _save_logged(self, pid: str) -> None:
        try:
            self._save(pid)
        except Exception:  # the autosaver must survive a full disk; the next change retries
            log.exception("autosave of project %s failed", pid)
            with self.lock:
                self._dirty.setdefault(pid, time.monotonic() + 5.0)  # retry in a few seconds

    def _autosave_loop(self) -> None:
        while True:
            with self.lock:
                while not self._stopping:
                    now = time.monotonic()
                    due = [pid for pid, t in self._dirty.items() if now - t >= self._delay]
                    if due:
                        break
                    wait = min((self._delay - (now - t) for t in self._dirty.values()), default=None)
                    self._wake.wait(timeout=wait)
                if self._stopping:
                    return
                for pid in due:
                    del self._dirty[pid]
            for pid in due:
                self._save_logged(pid)


