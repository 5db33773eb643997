"""Perception models for the studio world, trained only on ground-truth renders.

- `identity.IdentityEncoder`: person crop → unit-norm identity embedding (the world's ArcFace).
- `detector.Detector`: whole image → person and face boxes.
- `attributes.AttributeClassifier`: scene kind / time of day and per-person expression, pose, facing.
- `crops.crop` / `crops.crops`: cut person crops exactly as training did.
"""
