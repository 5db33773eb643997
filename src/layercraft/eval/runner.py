"""The benchmark loop: cases × one method → images, per-case records (JSONL), resumable and shardable.

Deterministic: each case carries its own seed (fixed by the suite), so a case yields the same image
whichever shard or run produces it. Sharding takes every n-th case (`i/n`), or the process rank and
world size from accelerate (`auto`) when started with `accelerate launch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from ..canvas.images import save_image_atomic
from .backends import Backends
from .cases import Case
from .cost import condition_tokens, measure
from .methods import Generate, Method, canvas_for
from .records import append, done, records_path
from .scoring import ScoreConfig, score_case


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' → (i, n) with 0 ≤ i < n; 'auto' → accelerate's (process_index, num_processes)."""
    if text == "auto":
        from accelerate import PartialState

        st = PartialState()
        return st.process_index, st.num_processes
    i, n = (int(v) for v in text.split("/"))
    if not 0 <= i < n:
        raise ValueError(f"shard {text!r}: need 0 ≤ i < n")
    return i, n


def shard_cases(cases: list[Case], shard: tuple[int, int]) -> list[Case]:
    i, n = shard
    return cases[i::n]


def case_dir(out: Path, case: Case) -> Path:
    return out / "cases" / case.suite / case.id


def image_path(out: Path, method: str, case: Case) -> Path:
    return out / "images" / method / case.suite / f"{case.id}.png"


@dataclass
class RunOptions:
    model: str = "default"
    token_px: int = 16  # pixels per condition token side (VAE factor × patch)
    shard: tuple[int, int] = (0, 1)
    progress: bool = True
    variant: str | None = None  # records name the method "method@variant" (e.g. a differently trained model)


def run_method(cases: list[Case], method: Method, generate: Generate, out: Path, backends: Backends,
               score: ScoreConfig | None = None, opts: RunOptions | None = None) -> int:
    """Generate and score this shard's cases not yet in `out`; returns how many were run."""
    opts = opts or RunOptions()
    out = Path(out)
    name = f"{method.name}@{opts.variant}" if opts.variant else method.name
    finished = done(out)
    todo = [c for c in shard_cases(cases, opts.shard) if (name, c.suite, c.id) not in finished]
    path = records_path(out, opts.shard)
    for case in tqdm(todo, desc=f"{name} {opts.shard[0]}/{opts.shard[1]}", disable=not opts.progress):
        cdir = case_dir(out, case)
        if not (cdir / "collage.png").exists():
            from ..canvas import composite

            save_image_atomic(composite(case.canvas), cdir / "collage.png")
            if case.target is not None:
                save_image_atomic(Image.fromarray(case.target), cdir / "gt.png")
        with measure() as cost:
            image = generate(case)
        img_path = image_path(out, name, case)
        save_image_atomic(image, img_path)
        tokens = None
        if method.kind in ("pipeline", "base_t2i"):
            canvas = canvas_for(method, case)
            tokens = condition_tokens(canvas, method.scheme, opts.token_px, prune=method.switches.prune,
                                      ref_grid=method.switches.ref_grid) \
                if canvas.all_layers() and not method.lcp else {"tokens": 0, "tokens_unpruned": 0}
            # (LCP rows run the text-only path: subjects enter through the adapter's attention, not as tokens)
        rec = {
            "method": name,
            "suite": case.suite,
            "case": case.id,
            "seed": case.seed,
            "model": opts.model if method.kind in ("pipeline", "base_t2i") else None,
            "scheme": method.scheme if method.kind == "pipeline" else None,
            "prompt": case.prompt,
            "image": str(img_path.relative_to(out)),
            "cost": cost,
            "tokens": tokens,
            **score_case(case, image, backends, score),
        }
        append(path, rec)
    return len(todo)
