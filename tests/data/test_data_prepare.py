"""`layercraft data prepare` on real photos that ship in installed packages (see data_photos.py)."""

from __future__ import annotations

import json
import shutil
import tarfile

import numpy as np
import pytest
from data_photos import KEPT, REFUSED, names

from layercraft.data import PreparedDataset, PrepareOptions, iter_samples, prepare
from layercraft.data.prepare import DataError
from layercraft.world.shards import encode, read_shard


def _identity_letters(ds_path):
    """name → the identity numbers of its people, and letter → identity number, checked consistent."""
    recs = names(ds_path)
    letter_to_id: dict[str, int] = {}
    for name, letters in KEPT.items():
        ids = sorted(recs[name]["identities"])
        assert len(ids) == len(letters), (name, ids)  # one layer per person
        if len(letters) == 1:
            assert letter_to_id.setdefault(letters, ids[0]) == ids[0], name  # copies: one cluster
    return recs, letter_to_id


def test_copies_of_one_person_share_an_identity_and_different_people_do_not(photo_dataset):
    _, ds_path = photo_dataset
    recs, ids = _identity_letters(ds_path)
    assert ids["A"] != ids["G"] and ids["A"] >= 0 and ids["G"] >= 0
    assert sorted(recs["group/both.png"]["identities"]) == sorted([ids["A"], ids["G"]])
    assert recs["clips/walk.mp4@0"]["identities"] == [ids["A"]] == recs["clips/walk.mp4@1"]["identities"]
    ds = PreparedDataset(ds_path)
    assert set(ds.identities) == {ids["A"], ids["G"]}
    # the group photo links both identities: one scene; every layer is a person of the photo
    assert len(ds.scenes) == 1 and ds.index["counts"]["layers"] == sum(len(v) for v in KEPT.values()) + 2


def test_every_refusal_is_listed_with_its_reason(photo_dataset):
    _, ds_path = photo_dataset
    report = json.loads((ds_path / "report.json").read_text())
    got = {r["name"]: r["reason"] for r in report["refusals"]}
    assert got == REFUSED
    assert all(r["detail"] and "\n" not in r["detail"] for r in report["refusals"])
    assert report["counts"]["refusals"]["too_large"] == 1 and report["counts"]["images"] == len(KEPT) + 2


def test_layers_masks_landmarks_and_background_remainder(photo_dataset):
    _, ds_path = photo_dataset
    ds = PreparedDataset(ds_path)
    n = names(ds_path)["group/both.png"]
    s = ds.sample(ds.images.index(n))
    assert s.meta["schema"] == 2 and s.meta["source"] == "photos"
    assert s.layers.shape[0] == 2 and s.embeddings.shape == (2, 128) and s.landmarks.shape == (2, 5, 2)
    total = s.layers[..., 3].astype(int).sum(0)
    assert np.all(np.abs(total + s.plate_alpha.astype(int) - 255) <= 1)  # people + remainder = the photo
    for i in range(2):
        x0, y0, x1, y1 = s.face_boxes[i]
        lm = s.landmarks[i]
        assert (lm[:, 0] >= x0 - 2).all() and (lm[:, 0] <= x1 + 2).all() and (lm[:, 1] >= y0 - 2).all()
        assert s.layers[i, (y0 + y1) // 2, (x0 + x1) // 2, 3] > 128  # the face is inside its own layer
        assert s.parts[i, 0].any() and s.meta["people"][i]["descriptors"]["face"]
    left, right = sorted(range(2), key=lambda i: s.face_boxes[i][0])
    assert s.meta["people"][right]["reference"] == 0 and s.meta["people"][left]["reference"] is None  # grace ref
    assert "two people" in s.meta["caption"] and "From left to right" in s.meta["caption"]
    alice = ds.meta(ds.images.index(names(ds_path)["alice/mirror.png"]))
    assert "in a space centre" in alice["caption"] and "path" not in alice and alice["album"] is None


def test_shards_round_trip_and_stream_split_by_rank_and_worker(photo_dataset):
    _, ds_path = photo_dataset
    ds = PreparedDataset(ds_path)
    by_key = {}
    for shard in ds.shards:
        for key, sample in read_shard(shard):
            by_key[key] = sample
    assert sorted(by_key) == sorted(r["key"] for r in ds.images)
    for n, rec in enumerate(ds.images):
        direct, streamed = ds.sample(n), by_key[rec["key"]]
        assert np.array_equal(direct.layers, streamed.layers) and np.array_equal(direct.rgb, streamed.rgb)
        again = encode(direct)
        assert again["gt.npz"] and json.loads(again["json"]) == direct.meta
    keys = [[k for k, _ in iter_samples(ds.shards, rank=r, world_size=2, worker=w, num_workers=2)]
            for r in range(2) for w in range(2)]
    flat = [k for part in keys for k in part]
    assert sorted(flat) == sorted(by_key) and len(set(flat)) == len(flat) and sum(map(bool, keys)) >= 2
    first = keys[0]
    assert [k for k, _ in iter_samples(ds.shards, world_size=2, num_workers=2, start=1)] == first[1:]  # resume
    shuffled = [tuple(k for k, _ in iter_samples(ds.shards, seed=3, epoch=e)) for e in range(4)]
    assert all(sorted(o) == sorted(by_key) for o in shuffled) and len(set(shuffled)) > 1  # epoch-seeded shard order


def test_no_source_path_is_stored_in_the_shards(photo_dataset):
    photos, ds_path = photo_dataset
    for shard in (ds_path / "shards").glob("*.tar"):
        with tarfile.open(shard) as tar:
            for m in tar:
                if m.name.endswith(".json"):
                    assert str(photos) not in tar.extractfile(m).read().decode()
    assert str(photos) not in (ds_path / "index.json").read_text()


def test_exclude_identity_removes_the_persons_photos_and_keeps_other_numbers(photo_dataset, tmp_path):
    _, ds_path = photo_dataset
    copy = tmp_path / "ds"
    shutil.copytree(ds_path, copy)
    _, ids = _identity_letters(ds_path)
    counts = prepare([], copy, resume=True, exclude=[ids["G"]])
    ds = PreparedDataset(copy)
    assert set(ds.identities) == {ids["A"]}
    assert all(ids["G"] not in r["identities"] for r in ds.images)
    assert counts["refusals"]["excluded_identity"] == sum("G" in v for v in KEPT.values())
    plan = json.loads((copy / "work" / "plan.json").read_text())
    gone = {i["id"] for i in plan["items"] if i["name"].startswith(("bob/", "group/"))}
    for shard in (copy / "work").glob("chunk-*.tar"):  # purged from the work shards too
        with tarfile.open(shard) as tar:
            assert not {int(m.name[2:11]) for m in tar} & gone


def test_existing_dataset_without_resume_and_missing_sources_are_refused(photo_dataset, tmp_path):
    _, ds_path = photo_dataset
    with pytest.raises(DataError, match="already exists: pass --resume"):
        prepare([ds_path], ds_path)
    with pytest.raises(DataError, match="no such file"):
        prepare([tmp_path / "nope"], tmp_path / "out")
    with pytest.raises(DataError, match="not a layercraft dataset"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "x.txt").write_text("x")
        prepare([ds_path], tmp_path / "other", resume=True)


def test_a_folder_with_no_faces_gives_an_empty_dataset_with_every_refusal(tmp_path):
    folder = tmp_path / "nofaces"
    folder.mkdir()
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.coffee()).save(folder / "coffee.png")
    Image.fromarray(skimage.data.chelsea()).save(folder / "cat.png")
    counts = prepare([folder], tmp_path / "ds", PrepareOptions(max_side=256), workers=1)
    assert counts["images"] == 0 and counts["refusals"] == {"no_face": 2}
    assert PreparedDataset(tmp_path / "ds").index["shards"] == []


def test_one_reader_serves_world_shards_and_prepared_shards(photo_dataset, tmp_path):
    from layercraft.world.dataset import RenderedScenes
    from layercraft.world.shards import write_shards

    _, ds_path = photo_dataset
    world = RenderedScenes("train", size=64, images_per_scene=2, length=2)
    paths = write_shards((world.spec(i) for i in range(2)), tmp_path, per_shard=2)
    mixed = list(iter_samples([*paths, *PreparedDataset(ds_path).shards]))
    kinds = [s.meta.get("source", "world") for _, s in mixed]
    assert kinds.count("world") == 2 and kinds.count("photos") == len(PreparedDataset(ds_path))
    for _, s in mixed:
        assert s.layers.shape[0] == len(s.meta["people"]) == len(s.person_boxes)
        assert (s.plate_alpha is None) == (s.meta.get("source", "world") == "world")
