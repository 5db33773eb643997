"""Faces on real photos: boxes, landmarks, aligned crops, identity, detection at a working size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from vision_photos import group_photo, lfw_photo, place_landmarks

from layercraft.vision import ARCFACE_TEMPLATE, FaceAnalyzer, NoFaceError, align_face
from layercraft.vision.faces import similarity_to_template


def assert_anatomical(face):
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    x0, y0, x1, y1 = face.box
    assert ((face.landmarks >= [x0, y0]) & (face.landmarks <= [x1, y1])).all(), (face.box, face.landmarks)
    assert lex < nx < rex and lmx < nx < rmx  # image-left eye / mouth corner, nose between
    assert lex < rex and lmx < rmx
    assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose above the mouth


@pytest.mark.parametrize("which", ["astronaut", "grace"])
def test_one_face_with_landmarks_in_anatomical_order(analyzer, which, request):
    photo = request.getfixturevalue(which)
    faces = analyzer.detect(photo)
    assert len(faces) == 1
    f = faces[0]
    assert f.score > 0.95
    assert_anatomical(f)
    # the face is a plausible size for these portraits: 15-50 % of the photo width
    assert 0.15 * photo.width < f.box[2] - f.box[0] < 0.5 * photo.width


def test_no_face_in_a_photo_without_people(analyzer, no_face):
    assert analyzer.detect(no_face) == []
    with pytest.raises(NoFaceError, match="no face"):
        analyzer.largest(no_face, name="coffee")


def test_four_people_found_where_they_were_pasted(analyzer, astronaut, grace):
    photo, parts = group_photo(astronaut, grace)
    refs = {id(astronaut): analyzer.detect(astronaut)[0], id(grace): analyzer.detect(grace)[0]}
    faces = analyzer.detect(photo)
    assert len(faces) == 4
    for src, s, flip, off in parts:
        expected = place_landmarks(refs[id(src)].landmarks, src.width, s, flip, off)
        best = min(faces, key=lambda f: np.abs(f.landmarks - expected).max())
        err = np.linalg.norm(best.landmarks - expected, axis=1)
        # landmark error in units of the inter-ocular distance (what face-alignment benchmarks use)
        iod = np.linalg.norm(expected[0] - expected[1])
        assert err.mean() / iod < 0.08, (s, flip, err)
        assert_anatomical(best)


def test_downscaled_detection_maps_coordinates_back(astronaut):
    full = FaceAnalyzer().detect(astronaut)[0]
    small = FaceAnalyzer(max_side=256).detect(astronaut)[0]  # detected at half size
    assert np.abs(small.landmarks - full.landmarks).max() < 4.0
    assert np.abs(small.box - full.box).max() < 8.0


def test_aligned_crop_puts_the_landmarks_on_the_arcface_template(analyzer, astronaut):
    f = analyzer.detect(astronaut)[0]
    tform = similarity_to_template(f.landmarks)
    mapped = tform(f.landmarks)
    assert np.linalg.norm(mapped - ARCFACE_TEMPLATE, axis=1).mean() < 6.0  # a smiling mouth is wider than the template
    assert abs(mapped[0, 1] - mapped[1, 1]) < 1.0  # the roll is taken out: eyes level
    assert np.abs(mapped[:2].mean(0) - ARCFACE_TEMPLATE[:2].mean(0)).max() < 3.0
    crop = align_face(astronaut, f.landmarks)
    assert crop.size == (112, 112) and crop.mode == "RGB"
    # the crop shows that face: detecting on it again finds its landmarks where the transform put them
    padded = Image.new("RGB", (224, 224), (128, 128, 128))
    padded.paste(crop.resize((224, 224), Image.Resampling.BICUBIC))
    again = analyzer.detect(padded, min_score=0.5)
    assert again, "no face found in the aligned crop"
    assert np.abs(again[0].landmarks / 2 - mapped).max() < 3.0


def test_identity_same_for_mirrored_and_rescaled_copies_different_for_other_people(analyzer, astronaut, grace, lfw):
    t = analyzer.threshold
    sim = analyzer.embedder.similarity
    a = analyzer.largest(astronaut).embedding
    mirrored = analyzer.largest(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)).embedding
    rescaled = analyzer.largest(astronaut.resize((400, 400), Image.Resampling.LANCZOS)).embedding
    g = analyzer.largest(grace).embedding
    assert a.shape == (128,)
    assert sim(a, mirrored) >= t and sim(a, rescaled) >= t
    assert sim(a, g) < t
    # two different LFW people (a woman and a man, so certainly not one identity)
    woman, man = (analyzer.largest(lfw_photo(lfw[k])).embedding for k in (18, 0))
    assert sim(woman, man) < t
    # and one LFW face against its own mirrored, resized copy
    copy = analyzer.largest(lfw_photo(lfw[18], side=90, flip=True)).embedding
    assert sim(woman, copy) >= t


def test_compare_returns_similarity_and_decision(analyzer, astronaut, grace):
    s_same, same = analyzer.compare(astronaut, astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    s_diff, diff = analyzer.compare(astronaut, grace)
    assert same and not diff and s_same > s_diff
