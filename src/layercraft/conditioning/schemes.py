"""Conditioning schemes as objects: how a canvas becomes condition tokens, one object per scheme.

A `Scheme` bundles everything that differs between the papers' ways of conditioning on layers:

- `segments`: which pixels become segments — `"layers"` (each placed layer at canvas resolution),
  `"references"` (each layer resized to its own reference grid, unplaced: One-for-All) or
  `"collage"` (the composited canvas as one segment: Kontext);
- `ids`: the position-id function (one module per scheme under `conditioning.positions`);
- `isolation`: whether segments are identity-isolated in attention by default (AnyPhoto eq. 19);
- `ccpa`: whether item descriptors join the text at their blocks' centres by default (One-for-All eq. 3);
- `cacheable`: whether the condition tokens may be cached across steps (a model trained with
  cacheable masks; stock Kontext is not);
- `needs_training`: whether stock FLUX.1 Kontext weights already understand the scheme.

This module is the one place where scheme names are spelled; the CLI, the studio and eval read
names and defaults from `SCHEMES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import names
from .masks import MaskSpec
from .names import SCHEME_NAMES
from .positions import PositionIds, anyphoto_ids, kontext_ids, layercomposer_ids, one_for_all_ids

SegmentKind = Literal["layers", "references", "collage"]


@dataclass(frozen=True)
class Scheme:
    name: str
    segments: SegmentKind
    ids: PositionIds
    isolation: bool = False
    ccpa: bool = False
    cacheable: bool = True
    needs_training: bool = True
    summary: str = ""

    def mask(self, isolation: bool | None = None, cache: bool = False) -> MaskSpec:
        """The attention-mask spec for this scheme; `isolation=None` takes the scheme's default."""
        return MaskSpec(isolated=self.isolation if isolation is None else isolation, cacheable=cache)

    def __str__(self) -> str:
        return self.name


LAYERCOMPOSER = Scheme(names.LAYERCOMPOSER, "layers", layercomposer_ids,
                       summary="one segment per placed layer, locked layers at index 0 (LayerComposer)")
ANYPHOTO = Scheme(names.ANYPHOTO, "layers", anyphoto_ids, isolation=True,
                  summary="location-aligned identity tokens, identity-isolated attention (AnyPhoto)")
ONE_FOR_ALL = Scheme(names.ONE_FOR_ALL, "references", one_for_all_ids, ccpa=True,
                     summary="category references on their own position blocks, CCPA descriptors (One-for-All)")
KONTEXT_COLLAGE = Scheme(names.KONTEXT_COLLAGE, "collage", kontext_ids, cacheable=False, needs_training=False,
                         summary="the composited canvas as one Kontext context image (zero-shot on stock Kontext)")

SCHEMES: dict[str, Scheme] = {s.name: s for s in (LAYERCOMPOSER, ANYPHOTO, ONE_FOR_ALL, KONTEXT_COLLAGE)}
if tuple(SCHEMES) != SCHEME_NAMES:  # a scheme added here must be named in names.py too (the CLI's choices)
    raise ImportError(f"conditioning/names.py lists {SCHEME_NAMES}, the scheme table {tuple(SCHEMES)}: keep them equal")


def get_scheme(scheme: str | Scheme) -> Scheme:
    """A scheme by name (or the object itself); a clear error for unknown names."""
    if isinstance(scheme, Scheme):
        return scheme
    try:
        return SCHEMES[scheme]
    except (KeyError, TypeError):
        raise ValueError(f"unknown scheme {scheme!r}; choose from {', '.join(SCHEME_NAMES)}") from None
