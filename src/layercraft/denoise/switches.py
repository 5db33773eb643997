"""The paper mechanisms a generation or a training step can switch, declared once.

`Switches` is read by the pipelines (their `__call__` keywords of the same names), by the `canvas`
training task (its `switches` argument) and by eval's method table, so a mechanism has one name
and one default everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from ..conditioning.schemes import Scheme, get_scheme


@dataclass(frozen=True)
class Switches:
    """Each mechanism, switchable for ablations. None = the scheme's default."""

    prune: bool = True  # drop transparent condition tokens (LayerComposer)
    prune_rule: Literal["nearest", "coverage"] = "nearest"
    prune_tau: float = 0.0
    lock_ids: bool = True  # locked layers share index 0 (LayerComposer eq. 1); False: every layer its own index
    isolation: bool | None = None  # identity-isolated attention (AnyPhoto eq. 19)
    modulation: bool = False  # identity-adaptive modulation (AnyPhoto); needs identity embeddings
    ccpa: bool | None = None  # descriptors as text at their blocks' centres (One-for-All eq. 3)
    ccpa_tokens: int = 8
    ccpa_anchor: Literal["paper", "centroid"] = "paper"
    dam: bool = False  # DAM temperature generators (One-for-All eq. 4-5)
    cache: bool = False  # condition KV cache (models trained with cacheable conditions)
    ref_grid: int | None = None  # One-for-All: references resized to ref_grid × ref_grid tokens (None: the target grid)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> tuple[Switches, dict[str, Any]]:
        """Split call options into (Switches, the rest)."""
        names = set(cls.names())
        return cls(**{k: v for k, v in options.items() if k in names}), \
            {k: v for k, v in options.items() if k not in names}

    def isolation_for(self, scheme: str | Scheme) -> bool:
        return get_scheme(scheme).isolation if self.isolation is None else self.isolation

    def ccpa_for(self, scheme: str | Scheme) -> bool:
        return get_scheme(scheme).ccpa if self.ccpa is None else self.ccpa

    def check(self, scheme: str | Scheme, *, identity_embed_dim: int, dam_hidden_dim: int,
              has_identity_embeds: bool) -> None:
        """What the model and the call must provide for these switches; one message per missing piece."""
        sch = get_scheme(scheme)
        if self.prune_rule not in ("nearest", "coverage"):
            raise ValueError(f"prune_rule must be 'nearest' or 'coverage', got {self.prune_rule!r}")
        if self.ref_grid is not None and (isinstance(self.ref_grid, bool) or not isinstance(self.ref_grid, int)
                                          or self.ref_grid < 1):
            raise ValueError(f"ref_grid must be a whole number of tokens ≥ 1 (or None), got {self.ref_grid!r}")
        if self.modulation and not has_identity_embeds:
            raise ValueError("modulation=True needs identity_embeds (one dict layer id → embedding per canvas)")
        if self.modulation and identity_embed_dim <= 0:
            raise ValueError("modulation=True but the transformer has no identity projector (identity_embed_dim = 0)")
        if self.dam and dam_hidden_dim <= 0:
            raise ValueError("dam=True but the transformer has no DAM temperature generators (dam_hidden_dim = 0)")
        if self.cache and not sch.cacheable:
            raise ValueError(f"cache=True needs a model trained with cacheable conditions; scheme {sch.name!r} "
                             "on stock Kontext is not")

    def ref_grid_for(self, grid: tuple[int, int]) -> tuple[int, int]:
        """The token grid (h, w) One-for-All references are resized to: `ref_grid` squared, else the target's."""
        return grid if self.ref_grid is None else (self.ref_grid, self.ref_grid)

    def replace(self, **changes: Any) -> Switches:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
