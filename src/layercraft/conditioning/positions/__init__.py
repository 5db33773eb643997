"""Position-id functions, one module per scheme; `conditioning.schemes` binds them to scheme names."""

from .anyphoto import anyphoto_ids
from .base import PositionIds, SegmentIds, SegmentSpec, grid_ids, noisy_ids, text_ids
from .kontext import kontext_ids
from .layercomposer import layercomposer_ids
from .one_for_all import CONDITION_ID, item_text_ids, one_for_all_ids

__all__ = ["CONDITION_ID", "PositionIds", "SegmentIds", "SegmentSpec", "anyphoto_ids", "grid_ids", "item_text_ids",
           "kontext_ids", "layercomposer_ids", "noisy_ids", "one_for_all_ids", "text_ids"]
