"""Perception on real photos: faces (boxes, 5 landmarks, aligned crops, identity), people, cut-outs.

Separate from the studio world's own perception models (`layercraft.world.perception`). The
bundled models ship inside registry packages and are extracted at install time (`assets.py`);
nothing is downloaded at run time. Torch is used only by the MTCNN face detector.
"""

from .assets import ModelMissingError, install_models, model_dir
from .cutout import SubjectCutout
from .errors import NoFaceError, PhotoError, VisionError
from .faces import ARCFACE_TEMPLATE, DlibEmbedder, Face, FaceAnalyzer, align_face
from .people import Person, PersonSegmenter, SelfieSegmenter, split_instances
from .photo import load_photo, working_copy

__all__ = [
    "ARCFACE_TEMPLATE", "DlibEmbedder", "Face", "FaceAnalyzer", "ModelMissingError", "NoFaceError", "Person",
    "PersonSegmenter", "PhotoError", "SelfieSegmenter", "SubjectCutout", "VisionError", "align_face",
    "install_models", "load_photo", "model_dir", "split_instances", "working_copy",
]
