"""The studio world: procedural multi-subject scenes with exact ground truth."""
