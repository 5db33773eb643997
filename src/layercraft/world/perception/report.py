"""Re-measure every perception figure from the committed weights on held-out (test-split) renders."""

from __future__ import annotations

import time

from .attributes import AttributeClassifier
from .detector import Detector
from .evaluate import attribute_accuracy, detection_ap, identity_verification, identity_with_detector_boxes
from .identity import IdentityEncoder
from .identity_data import identity_crops
from .nets import n_params
from .scene_data import cached_scenes, scene_specs
from .training import cached

TARGETS = {"roc_auc": 0.99, "tar_at_far_1e-3": 0.9, "ap50": 0.95, "accuracy": 0.95}


def test_identity_crops(ids: int = 400, rounds: int = 5, seed: int = 1) -> dict:
    def make() -> dict:
        x, y = identity_crops("test", ids, rounds, seed)
        return {"x": x, "y": y}

    return cached("identity", {"split": "test", "ids": ids, "rounds": rounds, "seed": seed}, make)


def perception_report(images: int = 1000, ids: int = 400, log=print) -> dict:
    """All figures on held-out test-split renders: identity verification under two protocols (varied
    single/spaced renders of held-out identities; clearly visible people in ordinary scenes, 4 images
    per scene, cut at the ground-truth or at the detector's boxes), detection AP50 (occlusion-aware
    and strict), attribute accuracy at 128² and 256²."""
    t0 = time.time()
    scenes = cached_scenes("test", images)
    crops = test_identity_crops(ids)
    same_cast = cached_scenes("test", images // 2, first=500_000, per_scene=4)  # 4 images of each scene
    log(f"rendered {images} test scenes and {len(crops['y'])} identity crops in {time.time() - t0:.0f}s")
    enc, det, attr = (
        IdentityEncoder.from_pretrained(),
        Detector.from_pretrained(),
        AttributeClassifier.from_pretrained(),
    )
    rep = {
        "params": {"identity_encoder": n_params(enc), "detector": n_params(det), "attributes": n_params(attr)},
        "identity": {
            "varied_renders": identity_verification(enc, crops["x"], crops["y"]),
            "scene_people": identity_verification(enc, same_cast["crops"], same_cast["identity"]),
            "scene_people_detector_boxes": identity_with_detector_boxes(
                enc, det, scene_specs("test", images // 2, first=500_000, per_scene=4)
            ),
        },
        "detector": {
            "occlusion_aware": detection_ap(det, scenes),
            "strict_all_boxes": detection_ap(det, scenes, strict=True),
        },
        "attributes": attribute_accuracy(attr, scenes),
        "attributes_256": attribute_accuracy(attr, cached_scenes("test", images // 4, size=256)),
    }
    rep["seconds"] = round(time.time() - t0)
    return rep
