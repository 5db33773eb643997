"""The bundled example canvases, built in code (`scripts/make_examples.py` writes them to assets/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .canvas import Canvas
from .world.export import locking_aware_canvas
from .world.layout import scene
from .world.prompts import canvas_prompt

EXAMPLES = {"four-friends": "four-friends.lcp"}
SCENE = 90000024  # a held-out (test split) scene: a beach at sunset


def example_path(name: str = "four-friends") -> Path:
    if name not in EXAMPLES:
        raise KeyError(f"no bundled example {name!r}; choose from {sorted(EXAMPLES)}")
    return Path(str(resources.files("layercraft") / "assets" / "examples" / EXAMPLES[name]))


def four_friends() -> Canvas:
    """128×128, four held-out people from the studio world (identities never seen in training):
    one locked as the target image shows them, three unlocked from another image of their scene,
    and no background layer — the prompt asks for the beach at sunset."""
    rng = np.random.default_rng(0)
    canvas, target = locking_aware_canvas(scene(SCENE, n_people=4), 0, [1], 1, width=128, height=128,
                                          with_background=False)
    canvas.prompt = canvas_prompt(target.meta, rng)
    for layer, person in zip(canvas.layers, target.meta["people"], strict=True):
        layer.name = f"identity {person['identity']}"
    return canvas
