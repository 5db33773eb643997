"""Speed and quality of the bundled real-photo models, on photos that ship in installed packages.

Speed (median of --repeat runs after one warm-up, on the threads torch / the runtimes get):
detection + landmarks + identity embeddings of a 4-person ≈ 1 MP photo; the person split (mask +
instances) of that photo; the subject cut-out; detection on a 60 MP photo (decoded, scaled to the
working size, coordinates mapped back).

Quality (markdown tables):
- detection recall on the 100 LFW-subset faces (25×25 px, upscaled to 100 px on a grey 200 px
  photo), on astronaut / grace_hopper and on group photos pasted from them; false detections on
  the 100 LFW-subset non-faces;
- landmark error between a photo's landmarks mapped through a known transform (mirror, rescale)
  and the landmarks detected on the transformed photo, as NME (mean error / inter-ocular distance);
- same / different identity: ROC-AUC, and the rates at the backend's threshold, over 100 same
  pairs (an LFW face and its mirrored, rescaled copy) and all 4,950 pairs of different LFW
  images (a few of those may show one person twice: LFW repeats people);
- person split on group photos made of single-person photos: best IoU per person (counts mask
  errors too) and the split accuracy (person pixels given to the right person).

    python scripts/bench_vision.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
import torch
from PIL import Image

from layercraft.vision import FaceAnalyzer, PersonSegmenter, SubjectCutout, load_photo
from layercraft.vision.metrics import roc_auc, split_scores


def grace() -> Image.Image:
    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


def compose(parts, size):
    """Paste (image, scale, flip, offset) parts in order on a plain photo of `size`."""
    photo = Image.new("RGB", size, (205, 200, 190))
    for src, s, flip, off in parts:
        im = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else src
        if s != 1.0:
            im = im.resize((round(src.width * s), round(src.height * s)), Image.Resampling.LANCZOS)
        photo.paste(im, off)
    return photo


def groups(a, g):
    """Group photos: name, size, parts. The first is the ≈ 1 MP 4-person speed photo."""
    return [
        ("4 people, 1280×800", (1280, 800), [(a, 1.0, False, (0, 288)), (g, 1.0, False, (420, 200)),
                                             (a, 0.55, True, (940, 518)), (g, 0.6, False, (960, 0))]),
        ("3 people side by side, 1536×600", (1536, 600), [(a, 1.0, False, (0, 88)), (g, 1.0, True, (512, 0)),
                                                          (a, 1.0, True, (1024, 88))]),
        ("2 people overlapping, 900×600", (900, 600), [(g, 1.0, False, (0, 0)), (a, 0.8, True, (420, 190))]),
    ]


def lfw_photo(face, side=100, canvas=200, flip=False):
    im = Image.fromarray((face * 255).astype(np.uint8)).convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    if flip:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = Image.new("RGB", (canvas, canvas), (128, 128, 128))
    out.paste(im, ((canvas - side) // 2, (canvas - side) // 2))
    return out


def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def map_points(p, width, scale, flip, off):
    p = np.asarray(p, np.float64).copy()
    if flip:
        p[:, 0] = width - p[:, 0]
        p = p[[1, 0, 2, 4, 3]]
    return p * scale + np.asarray(off, np.float64)


def nme(pred, true):
    return float(np.linalg.norm(pred - true, axis=1).mean() / np.linalg.norm(true[0] - true[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    a, g = Image.fromarray(skimage.data.astronaut()), grace()
    fa = FaceAnalyzer()
    ps = PersonSegmenter(fa)
    cut = SubjectCutout()
    name, size, parts = groups(a, g)[0]
    photo = compose(parts, size)

    print(f"threads: torch {torch.get_num_threads()}\n")
    print("| what | time |\n|---|---|")
    t = timed(lambda: fa.detect(photo, embed=True), args.repeat)
    n = len(fa.detect(photo))
    print(f"| detection + 5 landmarks + identity embeddings, {name} ({size[0] * size[1] / 1e6:.2f} MP, {n} faces) "
          f"| {t:.2f} s |")
    t_det = timed(lambda: fa.detect(photo), args.repeat)
    print(f"| detection + 5 landmarks only, same photo | {t_det:.2f} s |")
    faces = fa.detect(photo)
    t = timed(lambda: ps.split(photo, faces), args.repeat)
    print(f"| person split (mask + instances), same photo, faces given | {t:.2f} s |")
    t = timed(lambda: cut(photo), args.repeat)
    print(f"| subject cut-out (U²-Net-p 320²), same photo | {t:.2f} s |")
    with tempfile.TemporaryDirectory() as tmp:
        big = a.resize((7782, 7782), Image.Resampling.BILINEAR)
        path = Path(tmp) / "big.jpg"
        big.save(path, quality=85)
        del big
        t0 = time.perf_counter()
        big = load_photo(path)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        nb = len(fa.detect(big))
        t_big = time.perf_counter() - t0
    print(f"| 60.6 MP JPEG: decode / detection at 1600 px, mapped back ({nb} face) | {t_load:.2f} s / {t_big:.2f} s |")

    # detection recall
    lfw = skimage.data.lfw_subset()
    faces_lfw, nonfaces = lfw[:100], lfw[100:]
    found = [fa.detect(lfw_photo(f)) for f in faces_lfw]
    recall_lfw = sum(bool(f) for f in found) / len(found)
    false_pos = sum(len(fa.detect(lfw_photo(f))) for f in nonfaces)
    group_total = group_found = 0
    for _, gsize, gparts in groups(a, g):
        gp = compose(gparts, gsize)
        det = fa.detect(gp)
        group_total += len(gparts)
        group_found += min(len(det), len(gparts))
    singles = sum(len(fa.detect(im)) == 1 for im in (a, g))
    print("\n| detection | result |\n|---|---|")
    print(f"| LFW-subset faces found | {recall_lfw * 100:.0f} % of 100 |")
    print(f"| detections on the 100 LFW-subset non-faces | {false_pos} |")
    print(f"| astronaut, grace_hopper: exactly one face | {singles} / 2 |")
    print(f"| faces found in the 3 group photos | {group_found} / {group_total} |")

    # landmark error under known transforms
    print("\n| landmarks: transform | NME astronaut | NME grace_hopper |\n|---|---|---|")
    refs = {id(a): fa.detect(a)[0], id(g): fa.detect(g)[0]}
    for label, s, flip in [("mirror", 1.0, True), ("× 0.5", 0.5, False), ("× 0.75, mirror", 0.75, True),
                           ("× 1.5", 1.5, False)]:
        row = []
        for src in (a, g):
            moved = compose([(src, s, flip, (0, 0))], (round(src.width * s), round(src.height * s)))
            det = fa.detect(moved)[0]
            row.append(nme(det.landmarks, map_points(refs[id(src)].landmarks, src.width, s, flip, (0, 0))))
        print(f"| {label} | {row[0]:.3f} | {row[1]:.3f} |")
    lfw_err = []
    for f, d in zip(faces_lfw, found, strict=True):
        if not d:
            continue
        m = fa.detect(lfw_photo(f, flip=True))
        if m:
            lfw_err.append(nme(m[0].landmarks, map_points(d[0].landmarks, 200, 1.0, True, (0, 0))))
    print(f"| LFW-subset faces, mirror ({len(lfw_err)} faces) | mean {np.mean(lfw_err):.3f} | "
          f"90th pct {np.percentile(lfw_err, 90):.3f} |")

    # identity
    emb, same = [], []
    for f in faces_lfw:
        x = fa.detect(lfw_photo(f), embed=True)
        y = fa.detect(lfw_photo(f, side=90, flip=True), embed=True)
        emb.append(x[0].embedding if x else None)
        if x and y:
            same.append(fa.embedder.similarity(x[0].embedding, y[0].embedding))
    e = [v for v in emb if v is not None]
    diff = [fa.embedder.similarity(e[i], e[j]) for i in range(len(e)) for j in range(i + 1, len(e))]
    auc = roc_auc(same + diff, [True] * len(same) + [False] * len(diff))
    thr = fa.threshold
    tar = float(np.mean(np.array(same) >= thr))
    far = float(np.mean(np.array(diff) >= thr))
    big_same = [fa.embedder.similarity(refs[id(a)].embedding if refs[id(a)].embedding is not None else
                                       fa.largest(a).embedding, fa.largest(x).embedding)
                for x in (a.transpose(Image.Transpose.FLIP_LEFT_RIGHT), a.resize((400, 400)))]
    cross = fa.embedder.similarity(fa.largest(a).embedding, fa.largest(g).embedding)
    print(f"\n| identity ({fa.embedder.name}, threshold {thr:g}) | result |\n|---|---|")
    print(f"| ROC-AUC, {len(same)} same / {len(diff)} different LFW-subset pairs | {auc:.4f} |")
    print(f"| same pairs at or above threshold (TAR) | {tar * 100:.1f} % |")
    print(f"| different pairs at or above threshold (FAR) | {far * 100:.1f} % |")
    print(f"| similarity: same mean / different mean | {np.mean(same):.3f} / {np.mean(diff):.3f} |")
    print(f"| astronaut vs its mirror / its 400 px copy / grace_hopper | {big_same[0]:.3f} / {big_same[1]:.3f} / "
          f"{cross:.3f} |")

    # person split
    own = {id(a): ps.split(a)[0], id(g): ps.split(g)[0]}
    print("\n| person split | people found | IoU per person | split accuracy |\n|---|---|---|---|")
    for gname, gsize, gparts in groups(a, g):
        gp = compose(gparts, gsize)
        masks = []
        for src, s, flip, off in gparts:
            lay = own[id(src)].layer(src)
            if flip:
                lay = lay.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if s != 1.0:
                lay = lay.resize((round(src.width * s), round(src.height * s)), Image.Resampling.NEAREST)
            full = Image.new("RGBA", gsize)
            full.paste(lay, off)
            masks.append(np.asarray(full)[..., 3] >= 128)
        truth = [m & ~np.any(masks[k + 1:], axis=0) if k + 1 < len(masks) else m for k, m in enumerate(masks)]
        people = ps.split(gp)
        ious, acc = split_scores(truth, [np.asarray(p.layer(gp))[..., 3] for p in people])
        print(f"| {gname} | {len(people)} / {len(gparts)} | {' '.join(f'{v:.2f}' for v in ious)} | {acc * 100:.1f} % |")


if __name__ == "__main__":
    main()
