"""Token accounting: how many condition tokens a canvas costs under a scheme."""

from __future__ import annotations

from dataclasses import dataclass

from ..canvas.types import Canvas
from .batch import plan_segments
from .pruning import Rule
from .schemes import Scheme, get_scheme


@dataclass
class TokenReport:
    scheme: str
    noisy: int  # tokens of the image being generated
    per_layer: dict[str, int]  # condition tokens kept per segment
    unpruned: int  # condition tokens without pruning (each segment's full grid)

    @property
    def total(self) -> int:
        return sum(self.per_layer.values())

    def rows(self) -> list[tuple[str, int]]:
        return list(self.per_layer.items()) + [("total", self.total), ("unpruned", self.unpruned),
                                               ("noisy", self.noisy)]


def token_report(canvas: Canvas, scheme: str | Scheme, grid: tuple[int, int], *, prune: bool = True,
                 rule: Rule = "nearest", tau: float = 0.0, ref_grid: tuple[int, int] | None = None) -> TokenReport:
    plans = plan_segments(canvas, scheme, grid, prune=prune, rule=rule, tau=tau, ref_grid=ref_grid)
    sch = get_scheme(scheme)
    segs = sch.ids([p.spec for p in plans], grid)
    return TokenReport(
        scheme=sch.name,
        noisy=grid[0] * grid[1],
        per_layer={p.layer_id: int(s.keep.sum()) for p, s in zip(plans, segs, strict=True)},
        unpruned=sum(p.spec.keep.numel() for p in plans),
    )
