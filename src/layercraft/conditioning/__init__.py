"""Canvas → condition tokens: scheme objects, pruning, position ids, attention masks, token accounting.

Pure tensors; no model and no diffusers inside.
"""

from ..lazy import exports, lazy_exports

_WHERE = exports(
    accounting="TokenReport token_report",
    batch="ConditionBatch ConditionSample SegmentPlan assemble plan_segments",
    masks="FULL MaskSpec joint_attention_mask pad_masks",
    positions="CONDITION_ID SegmentSpec item_text_ids noisy_ids text_ids",
    pruning="Pruned keep_mask pack prune unpack",
    names="DEFAULT_SCHEME SCHEME_NAMES",
    schemes="SCHEMES Scheme get_scheme",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
