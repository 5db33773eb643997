"""Server limits and locations, set once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..canvas.limits import LIMITS, Limits
from ..conditioning.names import SCHEME_NAMES as SCHEMES  # noqa: F401  (the names the studio offers)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_data_dir() -> Path:
    return Path.home() / ".layercraft" / "studio"


@dataclass(frozen=True)
class StudioConfig:
    data_dir: Path
    limits: Limits = LIMITS  # the one set of limits the loader and the CLI use too
    max_upload_bytes: int = LIMITS.max_upload_bytes
    max_project_bytes: int = LIMITS.max_file_bytes
    max_image_pixels: int = LIMITS.max_image_pixels
    max_json_bytes: int = LIMITS.max_json_bytes  # any JSON request body
    stride: int = LIMITS.stride  # canvas sides must be multiples of this (VAE factor × patch size)
    max_history: int = 50
    autosave_delay_s: float = 0.3
    new_project_settings: dict = field(default_factory=dict)  # Settings fields a new project starts with
    allowed_hosts: tuple[str, ...] = ()  # Host names besides the loopback ones the studio answers to
    trained_sizes: tuple[tuple[int, int], ...] = ()  # (width, height) the model's card lists; offered first
    offered_sizes: tuple[tuple[int, int], ...] = ((512, 512), (768, 512), (512, 768), (1024, 1024), (256, 256))

    def hosts(self) -> frozenset[str]:
        return frozenset(h.lower().strip("[]") for h in (*LOOPBACK_HOSTS, *self.allowed_hosts))
