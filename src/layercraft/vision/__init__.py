"""Perception on real photos: faces (boxes, 5 landmarks, aligned crops, identity), people, cut-outs.

Separate from the studio world's own perception models (`layercraft.world.perception`). The
bundled models ship inside registry packages and are extracted at install time (`assets.py`);
nothing is downloaded at run time. Torch is used only by the MTCNN face detector. Names are
imported on first use, so `import layercraft.vision` (and the CLI) stays cheap.
"""

from ..lazy import lazy_exports

_WHERE = {
    "ModelMissingError": "assets", "install_models": "assets", "model_dir": "assets",
    "SubjectCutout": "cutout",
    "NoFaceError": "errors", "PhotoError": "errors", "VisionError": "errors",
    "ARCFACE_TEMPLATE": "faces", "DlibEmbedder": "faces", "Face": "faces", "FaceAnalyzer": "faces",
    "align_face": "faces",
    "Instance": "instances", "OnnxYoloSegPeople": "instances", "TransformersInstanceSegmentation": "instances",
    "load_instances": "instances",
    "Person": "people", "PersonSegmenter": "people", "SelfieSegmenter": "people", "split_instances": "people",
    "load_photo": "photo", "working_copy": "photo",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
