"""Natural-language prompts built from the attributes, with varied phrasing, counts and relations."""

from __future__ import annotations

import numpy as np

from .descriptors import person_phrase, short_ref
from .identity import character
from .spec import ImageSpec

_COUNT = {
    1: "one person",
    2: "two people",
    3: "three people",
    4: "four people",
    5: "five people",
    6: "six people",
    7: "seven people",
    8: "eight people",
    9: "nine people",
    10: "ten people",
}
_PLACE = {
    "beach": ("on a beach", "at the seaside"),
    "snow": ("in the snow", "on a snowy field"),
    "forest": ("in a forest", "among the trees of a forest"),
    "city street": ("on a city street", "in a street in town"),
    "park": ("in a park", "on the grass of a park"),
    "desert": ("in the desert", "among desert dunes"),
    "studio": ("in a photo studio", "against a studio backdrop"),
    "night sky": ("on a hill under the open sky", "on a grassy hill below the sky"),
}
_TIME = {
    "day": ("during the day", "in daylight"),
    "sunset": ("at sunset", "at dusk"),
    "night": ("at night", "after dark"),
}
_EXPR = {
    "neutral": ("with a neutral expression", "looking calm"),
    "smiling": ("smiling", "with a smile"),
    "laughing": ("laughing", "laughing out loud"),
    "eyes closed": ("with eyes closed", "eyes shut"),
    "surprised": ("looking surprised", "with a surprised face"),
}
_FACING = {
    "front": ("facing the camera", "looking ahead"),
    "left": ("turned to the left", "facing left"),
    "right": ("turned to the right", "facing right"),
}
_OPEN = (
    "A photo of {count} {place} {time}.",
    "{Count} {place} {time}.",
    "A picture showing {count} {place} {time}.",
)
_ORD = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def _pose(pose: str, bag: str | None, rng: np.random.Generator) -> str:
    if pose == "waving":
        return ("waving", "waving a hand")[int(rng.integers(2))]
    if pose == "hands on hips":
        return "with hands on hips"
    if pose == "holding bag" and bag:
        return f"holding the {bag.split(' ', 1)[1]}"
    return ("with arms down", "standing with arms at the sides")[int(rng.integers(2))]


def _position(rank: int, n: int) -> str:
    if n == 1:
        return ""
    if n == 2:
        return ("On the left", "On the right")[rank]
    if n == 3:
        return ("On the left", "In the middle", "On the right")[rank]
    if rank == 0:
        return "On the far left"
    if rank == n - 1:
        return "On the far right"
    return f"{_ORD[rank].capitalize()} from the left"


def _overlaps(a, b, W: int, H: int) -> bool:
    wa, wb = a.height * 0.2 * H / W, b.height * 0.2 * H / W
    return abs(a.x - b.x) < wa + wb and abs(a.y - b.y) < 0.5 * max(a.height, b.height)


def prompt(spec: ImageSpec) -> str:
    rng = np.random.default_rng([spec.prompt_seed, 0x9A])

    def pick(options):
        return options[int(rng.integers(len(options)))]

    n = len(spec.people)
    bg = spec.background
    count = _COUNT.get(n, f"{n} people")
    opening = pick(_OPEN).format(
        count=count, Count=count.capitalize(), place=pick(_PLACE[bg.kind]), time=pick(_TIME[bg.time])
    )
    order = sorted(range(n), key=lambda i: spec.people[i].x)
    parts = [opening]
    for rank, i in enumerate(order):
        p = spec.people[i]
        c = character(p.identity)
        bag = None if not c.has_bag else f"{c.bag_colour} {c.bag}"
        bits = [pick(_EXPR[p.expression]), _pose(p.pose, bag, rng), pick(_FACING[p.facing])]
        desc = person_phrase(c)
        where = _position(rank, n)
        sentence = (
            f"{where}, {desc}, {', '.join(bits)}."
            if where
            else f"{desc[0].upper()}{desc[1:]}, {', '.join(bits)}."
        )
        parts.append(sentence)
    relations = []
    for j in range(n):  # j in front of i when j comes later in z-order
        for i in range(j):
            if _overlaps(spec.people[i], spec.people[j], spec.width, spec.height):
                a, b = character(spec.people[j].identity), character(spec.people[i].identity)
                if short_ref(a) != short_ref(b):
                    relations.append(
                        f"{short_ref(a)[0].upper()}{short_ref(a)[1:]} stands in front of {short_ref(b)}."
                    )
    parts.extend(relations[:3])
    return " ".join(parts)


# ---- the short canvas prompt (training recipes, evaluation cases, the bundled example) --------------------
_CANVAS_COUNT = ["no one", "one person", "two people", "three people", "four people", "five people",
                 "six people", "seven people", "eight people"]
_CANVAS_PLACE = {"beach": "on a beach", "snow": "in the snow", "forest": "in a forest",
                 "city street": "on a city street", "park": "in a park", "desert": "in a desert",
                 "studio": "in a photo studio", "night sky": "under the open sky"}
_CANVAS_TIME = {"day": "during the day", "sunset": "at sunset", "night": "at night"}


def canvas_prompt(meta: dict, rng: np.random.Generator) -> str:
    """A short prompt saying what the canvas cannot: scene, time, and each person's expression and pose
    (left to right). The identities come from the canvas, not the text."""
    people = sorted(zip(meta["spec"]["people"], meta["people"], strict=True), key=lambda p: p[0]["x"])
    bg = meta["background"]
    place = _CANVAS_PLACE.get(bg["kind"], bg["kind"])
    head = f"{_CANVAS_COUNT[min(len(people), 8)]} {place} {_CANVAS_TIME[bg['time']]}"
    parts = [f"{p['expression']}, {p['pose']}" for _, p in people]
    if rng.random() < 0.5 or len(parts) == 1:
        return f"{head}: " + "; ".join(parts) + "."
    return f"{head}. From left to right: " + "; ".join(parts) + "."
