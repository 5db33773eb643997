#!/usr/bin/env python3
"""Fuzz the project loader through the command line: seeded mutations of the bundled project.

Each mutation is written to a file and run as `layercraft canvas render FILE` in a forked child
(the CLI is imported once, so a run costs milliseconds) under a memory cap (RLIMIT_AS) and a time
cap. A run passes when it is accepted (exit 0) or refused cleanly (exit 2 with exactly one
`error: ...` line on stderr), prints no traceback, and its peak resident memory stays under the
budget. Mutations range from raw byte damage (flips, truncation, splices) to structural attacks:
hostile values in canvas.json and manifest.json, many layers or identity references sharing one
large image, lying or duplicated zip entries, bzip2/lzma/encrypted entries, and image bombs.

    python scripts/fuzz_projects.py --count 5000 --seed 1          # the larger run
    python scripts/fuzz_projects.py --count 300 --keep out/fuzz     # keep the failing inputs

The suite runs a few hundred of these (tests/canvas/test_fuzz_projects.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import signal
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1 << 20
HOSTILE = [None, True, False, "1", "true", -1, 0, 1, 7, 2**31, 2**64, 10**30, 1e308, -1e308, 1e-300, 0.5, "",
           "x" * 5000, "ab\n", "\ud800", [], {}, [0, 0], [[1, 2]] * 5, {"a": 1}, "images/p0.png", "../../etc/passwd",
           "images/nope.png", 4096, 4097, 100_000, 32, 33]
RAW_HOSTILE = ["NaN", "Infinity", "-Infinity", "9" * 5000, "1e999", "[" * 5000 + "]" * 5000, '"\\ud800"',
               '"\\u0000"', "1" + "0" * 400]


def bundled() -> bytes:
    from layercraft.examples import example_path

    return example_path().read_bytes()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _zip(members: list[tuple[str, bytes]] | dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    items = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return buf.getvalue()


def png_claiming(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header says width × height, followed by `idat` (little or no real data)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(idat)) + chunk(b"IEND", b"")


def big_honest_png(side: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (side, side), (200, 30, 30, 255)).save(buf, format="PNG")
    return buf.getvalue()


def _paths(value, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(root, path: tuple, value):
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


class Mutator:
    def __init__(self, seed: int, base: bytes | None = None, big_side: int = 4096) -> None:
        self.rng = random.Random(seed)
        self.big_side = big_side  # side of the large image the amplification mutations share
        self.base = base if base is not None else bundled()
        self.members = _members(self.base)
        self.canvas = json.loads(self.members["canvas.json"])
        self.manifest = json.loads(self.members["manifest.json"])
        self._big: bytes | None = None
        self._zeros: bytes | None = None

    def big(self) -> bytes:
        if self._big is None:
            self._big = big_honest_png(self.big_side)
        return self._big

    # ---- raw byte damage ---------------------------------------------------------------------
    def flip(self) -> bytes:
        data = bytearray(self.base)
        for _ in range(self.rng.randint(1, 16)):
            data[self.rng.randrange(len(data))] = self.rng.randrange(256)
        return bytes(data)

    def truncate(self) -> bytes:
        return self.base[: self.rng.randrange(len(self.base))]

    def splice(self) -> bytes:
        data = self.base
        a, b = sorted(self.rng.randrange(len(data)) for _ in range(2))
        at = self.rng.randrange(len(data))
        piece = data[a:b] if self.rng.random() < 0.5 else self.rng.randbytes(self.rng.randint(1, 64))
        return data[:at] + piece + data[at + (len(piece) if self.rng.random() < 0.5 else 0):]

    # ---- structure ---------------------------------------------------------------------------
    def json_value(self) -> bytes:
        canvas = json.loads(json.dumps(self.canvas))
        path = self.rng.choice(_paths(canvas)[1:])
        members = dict(self.members)
        if self.rng.random() < 0.3:  # a raw token json.dumps cannot write
            marker = "__RAW__"
            text = json.dumps(_set(canvas, path, marker))
            members["canvas.json"] = text.replace(f'"{marker}"', self.rng.choice(RAW_HOSTILE)).encode()
        else:
            value = self.rng.choice(HOSTILE)
            members["canvas.json"] = json.dumps(_set(canvas, path, value)).encode("utf-8", "surrogatepass")
        return _zip(members)

    def manifest_value(self) -> bytes:
        manifest = dict(self.manifest)
        manifest[self.rng.choice(["format", "version", "extra"])] = self.rng.choice(HOSTILE)
        return _zip({**self.members, "manifest.json": json.dumps(manifest).encode("utf-8", "surrogatepass")})

    def amplify(self) -> bytes:
        """Many layers (or identity refs) all naming one image, small or large."""
        canvas = json.loads(json.dumps(self.canvas))
        members = dict(self.members)
        image = "images/p0.png"
        if self.rng.random() < 0.5:
            members["images/big.png"] = self.big()
            image = "images/big.png"
        template = dict(canvas["layers"][0], image=image, identity_refs=[])
        n = self.rng.choice([8, 32, 33, 40, 200])
        if self.rng.random() < 0.5:
            canvas["layers"] = [dict(template, id=f"l{k}") for k in range(min(n, 32))]
        else:
            canvas["layers"][0] = dict(template, identity_refs=[image] * n)
        members["canvas.json"] = json.dumps(canvas).encode()
        return _zip(members)

    def bomb(self) -> bytes:
        members = dict(self.members)
        kind = self.rng.choice(["claims", "claims-huge", "entry-bomb", "many-big"])
        if kind == "claims":
            members["images/p0.png"] = png_claiming(4096, 4096, b"\0" * 100)
        elif kind == "claims-huge":
            members["images/p0.png"] = png_claiming(100_000, 100_000)
        elif kind == "entry-bomb":  # deflates to ~80 KB, inflates past the entry limit
            if self._zeros is None:
                self._zeros = _zip({**members, "images/p0.png": b"\0" * (80 * MiB)})
            return self._zeros
        else:  # distinct large images: the project's pixel budget
            canvas = json.loads(json.dumps(self.canvas))
            for k, layer in enumerate(canvas["layers"]):
                name = f"images/big{k}.png"
                members[name] = png_claiming(4096, 4096, bytes([k]) * 64)
                layer["image"] = name
            canvas["layers"] = canvas["layers"] * 2
            for k, layer in enumerate(canvas["layers"]):
                canvas["layers"][k] = dict(layer, id=f"q{k}")
            members["canvas.json"] = json.dumps(canvas).encode()
        return _zip(members)

    def zip_structure(self) -> bytes:
        kind = self.rng.choice(["duplicate", "traversal", "bzip2", "lzma", "encrypted", "lying-size", "stored",
                                "many-entries", "empty"])
        items = list(self.members.items())
        if kind == "duplicate":
            name, _ = self.rng.choice(items)
            other = self.rng.choice(items)[1]
            return _zip([*items, (name, other)])
        if kind == "traversal":
            return _zip([*items, (self.rng.choice(["../x.png", "/abs.png", "a\\b.png", "C:x.png"]), b"x")])
        if kind in ("bzip2", "lzma"):
            return _zip(items, zipfile.ZIP_BZIP2 if kind == "bzip2" else zipfile.ZIP_LZMA)
        if kind == "stored":
            return _zip(items, zipfile.ZIP_STORED)
        if kind == "many-entries":
            return _zip([*items, *((f"junk/{k}", b"") for k in range(600))])
        if kind == "empty":
            return _zip([])
        data = bytearray(_zip(items))
        # edit the central directory records: the encrypted flag, or a declared size that lies
        at = data.find(b"PK\x01\x02")
        while at >= 0:
            if kind == "encrypted":
                data[at + 8] |= 0x1
            else:
                data[at + 24 : at + 28] = struct.pack("<I", self.rng.choice([0, 1, 100, 2**32 - 1]))
            at = data.find(b"PK\x01\x02", at + 4)
        return bytes(data)

    KINDS = {"flip": 3, "truncate": 1, "splice": 1, "json_value": 4, "manifest_value": 1, "amplify": 1, "bomb": 1,
             "zip_structure": 2}

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        names, weights = zip(*self.KINDS.items(), strict=True)
        while True:
            kind = self.rng.choices(names, weights)[0]
            yield kind, getattr(self, kind)()


@dataclass
class Outcome:
    kind: str
    code: int  # exit code, or -signal
    stderr: str
    peak_bytes: int
    seconds: float

    def problem(self, budget: int) -> str | None:
        if "Traceback" in self.stderr:
            return "traceback"
        if self.code not in (0, 2):
            return f"exit code {self.code}"
        lines = self.stderr.strip().splitlines()
        if self.code == 2 and not (len(lines) == 1 and lines[0].startswith("error: ")):
            return f"refusal is not one 'error:' line: {self.stderr[:200]!r}"
        if self.peak_bytes > budget:
            return f"peak memory {self.peak_bytes >> 20} MiB over the budget of {budget >> 20} MiB"
        return None


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _status_bytes(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    """Make VmHWM (peak RSS) start again from the current RSS (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run_cli(path: Path, out_dir: Path, kind: str, memory_cap: int, time_cap_s: int = 30) -> Outcome:
    """`layercraft canvas render PATH` in a forked child under RLIMIT_AS = current size + memory_cap.

    The peak is the child's own growth: VmHWM at the end minus VmRSS at the start (after a reset),
    so pages shared with the parent are not counted.
    """
    from layercraft.cli import app

    err_path = out_dir / "stderr.txt"
    peak_path = out_dir / "peak.txt"
    peak_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code, start = 70, 0
        try:
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            limit = _vm_bytes() + memory_cap
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            signal.alarm(time_cap_s)
            _reset_peak()
            start = _status_bytes("VmRSS")
            app(args=["canvas", "render", str(path), "--out", str(out_dir / "render")], prog_name="layercraft")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # what the user would see as a traceback
            import traceback

            traceback.print_exc()
            code = 70
        finally:
            try:
                sys.stderr.flush()
                peak_path.write_text(f"{_status_bytes('VmHWM') - start}")
            finally:
                os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(errors="replace") if err_path.exists() else ""
    try:
        peak = int(peak_path.read_text())
    except (OSError, ValueError):  # killed before it could write: count its whole maximum
        peak = usage.ru_maxrss * 1024
    return Outcome(kind, code, stderr, peak, seconds)


@dataclass
class Report:
    runs: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[tuple[int, Outcome, str]] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    peak_growth: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        tracebacks = sum(1 for _, _, p in self.failures if p == "traceback")
        over = sum(1 for _, _, p in self.failures if p.startswith("peak memory"))
        return (f"{self.runs} mutations in {self.seconds:.1f} s: {self.accepted} accepted, {self.refused} refused, "
                f"{len(self.failures)} failed ({tracebacks} tracebacks, {over} over the memory budget); peak growth "
                f"{self.peak_growth >> 20} MiB; kinds {dict(sorted(self.kinds.items()))}")


def fuzz(count: int, seed: int, *, budget_growth: int = 512 * MiB, memory_cap: int = 1536 * MiB,
         keep: Path | None = None, log=None, big_side: int = 4096) -> Report:
    """Run `count` mutations; budget_growth bounds each run's own peak RSS growth."""
    import layercraft.cli  # noqa: F401  (imported once, before forking)

    report = Report()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="layercraft-fuzz-") as tmp:
        work = Path(tmp)
        path = work / "fuzzed.lcp"
        for index, (kind, data) in zip(range(count), Mutator(seed, big_side=big_side), strict=False):
            path.write_bytes(data)
            outcome = run_cli(path, work, kind, memory_cap)
            report.peak_growth = max(report.peak_growth, outcome.peak_bytes)
            report.runs += 1
            report.kinds[kind] += 1
            problem = outcome.problem(budget_growth)
            if problem is not None:
                report.failures.append((index, outcome, problem))
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"{index:05d}-{kind}.lcp").write_bytes(data)
                if log:
                    log(f"#{index} {kind}: {problem}\n{outcome.stderr[-2000:]}")
            elif outcome.code == 0:
                report.accepted += 1
            else:
                report.refused += 1
    report.seconds = time.perf_counter() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-mib", type=int, default=512, help="peak RSS growth allowed per run")
    parser.add_argument("--cap-mib", type=int, default=1536, help="address-space cap per run (RLIMIT_AS)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the inputs that failed")
    args = parser.parse_args(argv)
    report = fuzz(args.count, args.seed, budget_growth=args.budget_mib * MiB, memory_cap=args.cap_mib * MiB,
                  keep=args.keep, log=lambda m: print(m, file=sys.stderr))
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
