"""What this studio offers: model, schemes, limits, and whether background removal is available."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends

from ..background_removal import UNAVAILABLE
from ..config import SCHEMES
from ..context import Studio, studio
from .upscale import available as upscale_available

router = APIRouter(tags=["info"])


@router.get("/api/info")
def info(s: Studio = Depends(studio)) -> dict:
    return {
        "model": s.service.model_name,
        "schemes": list(SCHEMES),
        "stride": s.config.stride,
        "queue_size": s.service.queue_size,
        "job_timeout_s": s.service.timeout_s,
        "max_upload_bytes": s.config.max_upload_bytes,
        "max_project_bytes": s.config.max_project_bytes,
        "limits": dataclasses.asdict(s.config.limits),
        # the sizes the model was trained at (from its card) first, then the others, marked untrained
        "sizes": [{"width": w, "height": h, "trained": True} for w, h in s.config.trained_sizes]
        + [{"width": w, "height": h, "trained": not s.config.trained_sizes}
           for w, h in s.config.offered_sizes if (w, h) not in s.config.trained_sizes],
        "upscale": upscale_available(),
        "background_removal": {"available": s.remover is not None,
                               "reason": None if s.remover is not None else UNAVAILABLE},
    }
