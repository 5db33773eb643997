"""The layered canvas: data model, rasterization, builders, validation and project files. No torch."""

from .errors import CanvasError, ImageError, LimitError, OptionError, ProjectFileError, Refusal
from .images import load_image
from .limits import LIMITS, Limits
from .project import load_project, save_project
from .raster import LayerRaster, composite, landmarks_on_canvas, preview, rasterize, rasterize_layer
from .types import FORMAT_VERSION, Canvas, Category, Layer, Placement
from .validate import fit_size, validate_canvas

__all__ = [
    "FORMAT_VERSION", "LIMITS", "Canvas", "CanvasError", "Category", "ImageError", "Layer", "LayerRaster", "LimitError",
    "Limits", "OptionError", "Placement", "ProjectFileError", "Refusal",
    "composite", "fit_size", "landmarks_on_canvas", "load_image", "load_project", "preview", "rasterize",
    "rasterize_layer", "save_project", "validate_canvas",
]
