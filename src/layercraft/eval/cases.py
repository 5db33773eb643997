"""Benchmark cases: a canvas to generate from plus everything the metrics compare the output with.

Two sources: the world suites (`world/suites/*.json`, rendered on the fly; exact ground truth) and a
user JSONL of cases with their own images, boxes and prompts (ground truth optional).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..canvas import Canvas, Category, Layer, Placement, load_project, rasterize
from ..canvas.raster import visible_masks

GREY = 128  # references are embedded over mid-grey


@dataclass
class Case:
    id: str  # unique within a suite, e.g. "0003"
    suite: str
    seed: int  # generation seed, fixed per case
    canvas: Canvas
    subjects: list[str]  # layer ids of the subjects (persons / faces), in ground-truth order
    boxes: np.ndarray  # (N, 4) canvas boxes of the subjects: where the canvas asks them to be
    target: np.ndarray | None = None  # (H, W, 3) uint8 ground-truth image, if any
    target_boxes: np.ndarray | None = None  # (N, 4) subject boxes in the ground truth
    truth: dict = field(default_factory=dict)  # {"image": {...}, "people": [...], "reference_people": [...]}

    @property
    def prompt(self) -> str:
        return self.canvas.prompt

    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.id}"

    def references(self) -> tuple[np.ndarray, np.ndarray]:
        """Each subject's reference: its canvas layer alone over grey → (N, H, W, 3) uint8 and (N, 4) boxes."""
        rasters = {r.id: r for r in rasterize(self.canvas)}
        imgs, boxes = [], []
        for sid in self.subjects:
            r = rasters[sid]
            a = r.alpha[..., None]
            imgs.append((r.rgba[..., :3] * a + GREY * (1 - a)).round().astype(np.uint8))
            boxes.append(r.box or (0, 0, 1, 1))
        h, w = self.canvas.height, self.canvas.width
        return np.stack(imgs) if imgs else np.zeros((0, h, w, 3), np.uint8), np.array(boxes, float).reshape(-1, 4)

    def lock_regions(self) -> dict[str, np.ndarray]:
        """Locked layer id → (H, W, 4) uint8: its pixels, alpha restricted to where it is front-most and
        outside every unlocked subject's (grown) box."""
        placed = [r for r in rasterize(self.canvas) if r.placed]
        if not placed:
            return {}
        vis = visible_masks(placed)  # (L, H, W)
        # where an unlocked subject stands the output may legitimately differ from a locked layer behind it
        # (the subject takes another pose there): leave each unlocked box, grown by 10 %, out of the regions
        free = np.zeros(vis.shape[1:], bool)
        for r in placed:
            if not r.locked and r.box is not None:
                x0, y0, x1, y1 = r.box
                mx, my = round(0.1 * (x1 - x0)), round(0.1 * (y1 - y0))
                free[max(0, y0 - my):y1 + my, max(0, x0 - mx):x1 + mx] = True
        out = {}
        for r, v in zip(placed, vis, strict=True):
            v = v & ~free
            if r.locked and v.any():
                rgba = r.rgba.copy()
                rgba[..., 3] = np.where(v, rgba[..., 3], 0)
                out[r.id] = rgba
        return out


# ---- world suites ---------------------------------------------------------------------------------------
SUITE_DIR = Path(__file__).resolve().parents[1] / "world" / "suites"
WORLD_SUITES = ("1P", "2P", "4P", "6P", "8P", "occlusion", "lock")


def suite_name(name: str) -> str:
    """'world-4p' / '4p' / '4P' → '4P'; 'world-occlusion' → 'occlusion'."""
    n = name.removeprefix("world-")
    for s in WORLD_SUITES:
        if n.lower() == s.lower():
            return s
    raise ValueError(f"unknown suite {name!r}; choose from {', '.join('world-' + s.lower() for s in WORLD_SUITES)}"
                     " or give a .jsonl file")


def _person_attrs(p: dict) -> dict:
    return {k: p[k] for k in ("expression", "pose", "facing")}


def world_case(suite: str, index: int, entry: dict, size: int | None = None) -> Case:
    """Render suite entry `index`: a locking-aware canvas (locked = the entry's `locked`, background
    locked) and the target image with its ground truth; at `size` × `size` px if given (the scene's
    layout is resolution-free), else at the suite's size."""
    from ..world.export import locking_aware_canvas
    from ..world.layout import image_spec, scene
    from ..world.prompts import canvas_prompt
    from ..world.scene import render

    size = (size, size) if size else (entry["spec"]["width"], entry["spec"]["height"])
    sc = scene(entry["scene"], n_people=entry["n_people"], occlusion=entry["occlusion"])
    canvas, tgt = locking_aware_canvas(sc, entry["target"], entry.get("locked", []), entry["source"],
                                       width=size[0], height=size[1])
    # The prompt says what a layered canvas cannot (scene, time, each person's expression and pose, left to
    # right) in the form the canvas models are trained on; the long descriptive caption stays in `truth`.
    canvas.prompt = canvas_prompt(tgt.meta, np.random.default_rng(int(entry["scene"])))
    src = render(image_spec(sc, entry["source"], *size))
    by_identity = {p["identity"]: _person_attrs(p) for p in src.meta["people"]}
    rasters = {r.id: r for r in rasterize(canvas)}
    subjects = [layer.id for layer in canvas.layers]
    return Case(
        id=f"{index:04d}",
        suite=suite,
        seed=int(entry["scene"]) % 2**31,
        canvas=canvas,
        subjects=subjects,
        boxes=np.array([rasters[s].box for s in subjects], float).reshape(-1, 4),
        target=tgt.rgb,
        target_boxes=tgt.person_boxes.astype(float),
        truth={
            "image": dict(tgt.meta["background"]),
            "caption": tgt.meta["prompt"],
            # where the canvas came from, so a method can build another input from the same source image
            "world": {"scene": int(entry["scene"]), "n_people": entry["n_people"], "occlusion": entry["occlusion"],
                      "source": int(entry["source"]), "size": list(size),
                      "identities": [int(p["identity"]) for p in tgt.meta["people"]]},
            "people": [_person_attrs(p) for p in tgt.meta["people"]],
            "reference_people": [
                None if canvas.layer(s).locked else by_identity[p["identity"]]
                for s, p in zip(subjects, tgt.meta["people"], strict=True)
            ],
        },
    )


def world_suite(name: str, count: int | None = None, size: int | None = None) -> list[Case]:
    name = suite_name(name)
    data = json.loads((SUITE_DIR / f"{name}.json").read_text())
    entries = data["entries"][:count] if count is not None else data["entries"]
    return [world_case(name, i, e, size) for i, e in enumerate(entries)]


# ---- user cases -----------------------------------------------------------------------------------------
def _rgba(path: Path) -> Image.Image:
    return Image.open(path).convert("RGBA")


def user_case(rec: dict, base: Path, suite: str, index: int) -> Case:
    """One JSONL record → Case. Either {"project": file.lcp} or {"width", "height", "prompt", "layers":
    [{"id", "image", "box": [x0, y0, x1, y1], "locked"?, "descriptor"?, "category"?}], "background"?};
    optional "target" image, "target_boxes", "truth", "seed", "id", "subjects" (default: all layers)."""
    if "project" in rec:
        canvas = load_project(base / rec["project"])
    else:
        layers = []
        for lay in rec["layers"]:
            img = _rgba(base / lay["image"])
            x0, y0, x1, y1 = (float(v) for v in lay["box"])
            s = min((x1 - x0) / img.width, (y1 - y0) / img.height)  # fit inside the box, centred
            x = x0 + ((x1 - x0) - img.width * s) / 2
            y = y0 + ((y1 - y0) - img.height * s) / 2
            layers.append(Layer(id=lay["id"], image=img, placement=Placement(x=x, y=y, scale=s),
                                locked=bool(lay.get("locked", False)), descriptor=lay.get("descriptor"),
                                category=Category(lay.get("category", "person"))))
        bg = None
        if rec.get("background"):
            bg = Layer(id="bg", image=_rgba(base / rec["background"]).resize((rec["width"], rec["height"])),
                       category=Category.background, locked=bool(rec.get("lock_background", True)))
        canvas = Canvas(width=rec["width"], height=rec["height"], layers=layers, background=bg,
                        prompt=rec.get("prompt", ""))
    if "prompt" in rec:
        canvas.prompt = rec["prompt"]
    subjects = rec.get("subjects") or [layer.id for layer in canvas.layers if layer.placed]
    rasters = {r.id: r for r in rasterize(canvas)}
    target = None
    if rec.get("target"):
        target = np.asarray(Image.open(base / rec["target"]).convert("RGB").resize((canvas.width, canvas.height)))
    tb = rec.get("target_boxes")
    return Case(
        id=str(rec.get("id", f"{index:04d}")),
        suite=suite,
        seed=int(rec.get("seed", index)),
        canvas=canvas,
        subjects=subjects,
        boxes=np.array([rasters[s].box for s in subjects], float).reshape(-1, 4),
        target=target,
        target_boxes=np.array(tb, float).reshape(-1, 4) if tb is not None else None,
        truth=rec.get("truth", {}),
    )


def user_suite(path: str | Path, count: int | None = None) -> list[Case]:
    path = Path(path)
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [user_case(r, path.parent, path.stem, i) for i, r in enumerate(recs[:count] if count else recs)]


def load_cases(suite: str, count: int | None = None, size: int | None = None) -> list[Case]:
    """A world suite name (world-4p, occlusion, …; rendered at `size` px if given) or a .jsonl path."""
    if suite.endswith(".jsonl"):
        return user_suite(suite, count)
    return world_suite(suite, count, size)
