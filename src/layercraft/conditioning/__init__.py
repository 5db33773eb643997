"""Canvas → condition tokens: scheme objects, pruning, position ids, attention masks, token accounting.

Pure tensors; no model and no diffusers inside.
"""

from .accounting import TokenReport, token_report
from .batch import ConditionBatch, ConditionSample, SegmentPlan, assemble, plan_segments
from .masks import FULL, MaskSpec, joint_attention_mask, pad_masks
from .positions import CONDITION_ID, SegmentSpec, item_text_ids, noisy_ids, text_ids
from .pruning import Pruned, keep_mask, pack, prune, unpack
from .schemes import DEFAULT_SCHEME, SCHEME_NAMES, SCHEMES, Scheme, get_scheme

__all__ = [
    "CONDITION_ID", "DEFAULT_SCHEME", "FULL", "SCHEMES", "SCHEME_NAMES", "ConditionBatch", "ConditionSample",
    "MaskSpec", "Pruned", "Scheme", "SegmentPlan", "SegmentSpec", "TokenReport", "assemble", "get_scheme",
    "item_text_ids", "joint_attention_mask", "keep_mask", "noisy_ids", "pack", "pad_masks", "plan_segments", "prune",
    "text_ids", "token_report", "unpack",
]
