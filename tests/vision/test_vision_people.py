"""People and cut-outs on real photos: one layer per person, split seeded by faces; subject cut-out."""

from __future__ import annotations

import numpy as np
from PIL import Image
from vision_photos import group_photo

from layercraft.vision.metrics import roc_auc, split_scores


def _at(alpha_img: Image.Image, xy) -> int:
    x, y = (int(round(v)) for v in xy)
    return int(np.asarray(alpha_img)[y, x, 3])


def test_one_person_layer_covers_the_face_not_the_top_corners(segmenter, astronaut):
    people = segmenter.split(astronaut)
    assert len(people) == 1
    p = people[0]
    layer = p.layer(astronaut)
    assert layer.size == astronaut.size and layer.mode == "RGBA"
    a = np.asarray(layer)[..., 3]
    assert _at(layer, p.face.center) > 200
    assert a[:12, :12].max() < 40 and a[:12, -12:].max() < 40
    assert p.area == int((a >= 128).sum())
    assert 0.2 < p.area / a.size < 0.8  # the astronaut fills a good part of the frame


def _truth(segmenter, astronaut, grace, photo, parts):
    """Each pasted person's visible mask in the group photo, from that person's mask in their own photo."""
    own = {id(src): segmenter.split(src)[0] for src in (astronaut, grace)}
    masks = []
    for src, s, flip, off in parts:
        layer = own[id(src)].layer(src)
        if flip:
            layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if s != 1.0:
            layer = layer.resize((round(src.width * s), round(src.height * s)), Image.Resampling.NEAREST)
        full = Image.new("RGBA", photo.size)
        full.paste(layer, off)
        masks.append(np.asarray(full)[..., 3] >= 128)
    visible = []
    for k, m in enumerate(masks):  # later pastes lie on top
        covered = np.zeros_like(m)
        for later in masks[k + 1:]:
            covered |= later
        visible.append(m & ~covered)
    return visible


def test_group_photo_splits_into_one_layer_per_person(segmenter, astronaut, grace):
    photo, parts = group_photo(astronaut, grace)
    people = segmenter.split(photo)
    assert len(people) == 4
    layers = [p.layer(photo) for p in people]
    alphas = np.stack([np.asarray(lay)[..., 3].astype(np.int32) for lay in layers])
    assert alphas.sum(0).max() <= 256  # soft alphas share the mask, never double it
    for k, p in enumerate(people):
        assert _at(layers[k], p.face.center) > 200
        for j, q in enumerate(people):
            if j != k:
                assert _at(layers[k], q.face.center) < 60
    ious, accuracy = split_scores(_truth(segmenter, astronaut, grace, photo, parts), alphas)
    assert min(ious) > 0.6, ious  # mask errors of the one-class model count here
    assert accuracy > 0.95, accuracy  # the split itself: person pixels given to the right person


def test_split_scores_and_auc_measure_what_they_say():
    a = np.zeros((4, 4), bool)
    a[:, :2] = True
    b = ~a
    assert split_scores([a, b], [a * 255, b * 255]) == ([1.0, 1.0], 1.0)
    swapped_half = np.zeros((4, 4), bool)
    swapped_half[:2, :2] = True  # a's top half given to b
    ious, acc = split_scores([a, b], [(a & ~swapped_half) * 255, (b | swapped_half) * 255])
    assert acc == 0.75 and ious[0] == 0.5
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.9, 0.5, 0.5], [True, True, False, False]) == 0.5


def test_cutout_alpha_covers_the_face_and_not_the_top_corners(cutout, analyzer, astronaut, grace):
    for photo in (astronaut, grace):
        out = cutout(photo)
        assert out.size == photo.size and out.mode == "RGBA"
        a = np.asarray(out)[..., 3]
        face = analyzer.detect(photo)[0]
        x0, y0, x1, y1 = (int(v) for v in face.box)
        assert np.median(a[y0:y1, x0:x1]) > 200
        assert a[:12, :12].max() < 40 and a[:12, -12:].max() < 40
