"""Canvas → condition tokens: pruning, position-id schemes, attention masks, token accounting.

Pure tensors; no model and no diffusers inside.
"""

from .accounting import TokenReport, token_report
from .batch import ConditionBatch, ConditionSample, SegmentPlan, assemble, plan_segments
from .masks import MASK_MODES, joint_attention_mask, pad_masks
from .positions import CONDITION_ID, POSITION_SCHEMES, SegmentSpec, item_text_ids, noisy_ids, text_ids
from .pruning import Pruned, keep_mask, pack, prune, unpack

__all__ = [
    "CONDITION_ID", "MASK_MODES", "POSITION_SCHEMES", "ConditionBatch", "ConditionSample", "Pruned",
    "SegmentPlan", "SegmentSpec", "TokenReport", "assemble", "item_text_ids", "joint_attention_mask",
    "keep_mask", "noisy_ids", "pack", "pad_masks", "plan_segments", "prune", "text_ids", "token_report", "unpack",
]
