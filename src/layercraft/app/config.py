"""Server limits and locations, set once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..conditioning.schemes import SCHEME_NAMES as SCHEMES  # noqa: F401  (the names the studio offers)


def default_data_dir() -> Path:
    return Path.home() / ".layercraft" / "studio"


@dataclass(frozen=True)
class StudioConfig:
    data_dir: Path
    max_upload_bytes: int = 20 * 1024 * 1024
    max_project_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    stride: int = 16  # canvas sides must be multiples of this (VAE factor × patch size)
    max_history: int = 50
    autosave_delay_s: float = 0.3
    new_project_settings: dict = field(default_factory=dict)  # Settings fields a new project starts with
    trained_sizes: tuple[tuple[int, int], ...] = ()  # (width, height) the model's card lists; offered first
    offered_sizes: tuple[tuple[int, int], ...] = ((512, 512), (768, 512), (512, 768), (1024, 1024), (256, 256))
