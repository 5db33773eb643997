"""Per-case records on disk: one JSON object per line, one file per shard; resume by reading them back.

A partial last line (a process killed mid-write) is ignored, so that case simply runs again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def records_path(out: Path, shard: tuple[int, int]) -> Path:
    i, n = shard
    return out / ("records.jsonl" if n == 1 else f"records.{i}-of-{n}.jsonl")


def load_records(out: Path) -> list[dict]:
    """Every complete record of every shard under `out`, later duplicates (re-runs) replacing earlier ones."""
    by_key: dict[tuple, dict] = {}
    for path in sorted(Path(out).glob("records*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            by_key[(rec["method"], rec["suite"], rec["case"])] = rec
    return list(by_key.values())


def done(out: Path) -> set[tuple[str, str, str]]:
    return {(r["method"], r["suite"], r["case"]) for r in load_records(out)}


def append(path: Path, rec: dict) -> None:
    """Append one record as one write of one line, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(rec, allow_nan=False) + "\n"
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":  # a torn last line from a killed run: start on a fresh line
                line = "\n" + line
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
