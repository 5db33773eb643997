"""Identities: an integer id deterministically fixes a `Character` (face, hair, clothes, accessories).

The attribute lists are long and sampled independently, so the number of distinct characters is
in the billions; the first attributes drawn (hair, garments, skin) are the large, high-contrast
cues that stay readable at 128×128.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from .palette import EYES, GARMENT, HAIR, SKIN

HEAD_SHAPES = ("round", "oval", "square", "long", "wide")
HAIR_STYLES = ("bald", "buzz", "short", "bob", "long", "ponytail", "spiky", "curly", "mohawk", "bun")
EYE_SHAPES = ("round", "almond", "big")
BROWS = ("thin", "thick", "arched", "straight")
NOSES = ("small", "long", "wide", "button")
MOUTHS = ("narrow", "medium", "wide")
MARKS = ("none", "freckles", "mole", "full beard", "goatee", "moustache")
HATS = ("none", "cap", "beanie", "top hat", "sun hat")
GLASSES = ("none", "round glasses", "square glasses", "sunglasses")
UPPER_KINDS = ("t-shirt", "shirt", "sweater", "hoodie", "jacket")
UPPER_PATTERNS = ("solid", "striped", "dotted", "checked", "logo")
LOGO_SHAPES = ("star", "heart", "circle", "triangle", "diamond")
LOWER_CUTS = ("trousers", "shorts", "skirt", "long skirt")
LOWER_PATTERNS = ("solid", "striped", "checked", "dotted")
SHOES = ("sneakers", "boots")
BAGS = ("none", "handbag", "tote bag", "shoulder bag", "duffel bag")
BUILDS = ("slim", "regular", "broad")


@dataclass(frozen=True)
class Character:
    """Everything about a person that does not change between images. Colours are palette names."""

    identity: int
    head: str
    skin: str
    hair_style: str
    hair_colour: str
    eye_shape: str
    eye_colour: str
    brows: str
    nose: str
    mouth: str
    mark: str
    hat: str
    hat_colour: str
    glasses: str
    upper_kind: str
    upper_colour: str
    upper_pattern: str
    upper_logo: str
    lower_cut: str
    lower_colour: str
    lower_pattern: str
    shoes: str
    shoe_colour: str
    bag: str
    bag_colour: str
    build: str
    height: float  # relative body height, multiplies the placed height (0.9 to 1.08)

    @property
    def has_bag(self) -> bool:
        return self.bag != "none"

    def to_dict(self) -> dict:
        return asdict(self)


def _pick(rng: np.random.Generator, options, p=None) -> str:
    options = list(options)
    return options[int(rng.choice(len(options), p=p))]


@lru_cache(maxsize=65536)
def character(identity: int) -> Character:
    """The character of `identity` (any non-negative int); a pure function of the id."""
    if identity < 0:
        raise ValueError(f"identity ids are non-negative, got {identity}")
    rng = np.random.default_rng([identity, 0x1D])
    garment = list(GARMENT)
    upper_colour = _pick(rng, garment)
    lower_colour = _pick(rng, [c for c in garment if c != upper_colour])
    hair_style = _pick(rng, HAIR_STYLES, p=[0.05, 0.08, 0.15, 0.12, 0.14, 0.1, 0.09, 0.1, 0.07, 0.1])
    hat = _pick(rng, HATS, p=[0.72, 0.08, 0.08, 0.06, 0.06])
    bag = _pick(rng, BAGS, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    return Character(
        identity=identity,
        head=_pick(rng, HEAD_SHAPES),
        skin=_pick(rng, SKIN),
        hair_style=hair_style,
        hair_colour=_pick(
            rng, HAIR, p=[0.16, 0.14, 0.12, 0.08, 0.08, 0.12, 0.05, 0.07, 0.05, 0.05, 0.04, 0.04]
        ),
        eye_shape=_pick(rng, EYE_SHAPES),
        eye_colour=_pick(rng, EYES),
        brows=_pick(rng, BROWS),
        nose=_pick(rng, NOSES),
        mouth=_pick(rng, MOUTHS),
        mark=_pick(rng, MARKS, p=[0.36, 0.14, 0.12, 0.14, 0.12, 0.12]),
        hat=hat,
        hat_colour=_pick(rng, garment),
        glasses=_pick(rng, GLASSES, p=[0.6, 0.14, 0.14, 0.12]),
        upper_kind=_pick(rng, UPPER_KINDS),
        upper_colour=upper_colour,
        upper_pattern=_pick(rng, UPPER_PATTERNS),
        upper_logo=_pick(rng, LOGO_SHAPES),
        lower_cut=_pick(rng, LOWER_CUTS, p=[0.45, 0.2, 0.2, 0.15]),
        lower_colour=lower_colour,
        lower_pattern=_pick(rng, LOWER_PATTERNS, p=[0.55, 0.15, 0.15, 0.15]),
        shoes=_pick(rng, SHOES),
        shoe_colour=_pick(rng, garment),
        bag=bag,
        bag_colour=_pick(rng, garment),
        build=_pick(rng, BUILDS),
        height=float(np.round(rng.uniform(0.9, 1.08), 3)),
    )
