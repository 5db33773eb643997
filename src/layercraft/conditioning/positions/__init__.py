"""Position-id schemes, one module each, registered by name in POSITION_SCHEMES."""

from . import anyphoto, kontext, layercomposer, one_for_all  # noqa: F401  (registers the schemes)
from .base import POSITION_SCHEMES, SegmentIds, SegmentSpec, grid_ids, noisy_ids, text_ids
from .one_for_all import CONDITION_ID, item_text_ids

__all__ = ["CONDITION_ID", "POSITION_SCHEMES", "SegmentIds", "SegmentSpec", "grid_ids", "item_text_ids",
           "noisy_ids", "text_ids"]
