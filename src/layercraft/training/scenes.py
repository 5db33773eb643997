"""Where the recipes' scenes come from: one interface, two sources (and a weighted mix of them).

A *scene source* has `draw(rng, n_people=None) → SceneView`; a view has `n_images`,
`n_people(i)`, `image(i, size) → Sample` (square, `size` px, every ground-truth field the world
has), `other(i, identity, rng) → (Sample, person index)` (that identity in another image of the
view, for unlocked layers and AnyPhoto replacement), `source_for(target, source, identity, rng)`
and `prompt(sample, rng)`.

- `WorldScenes`: the procedural studio world (training-split scenes only, eight images each,
  rendered on the fly); exactly what the recipes drew before data sources existed.
- `DatasetScenes(folder)`: the training split of a dataset made by `layercraft data prepare`
  (docs/data.md; the held-out split, `--holdout`, is never drawn). A scene is a
  group of photos that share identities; `n_people=1` views are the single-person photos of one
  identity (One-for-All pairs). An identity missing from the chosen source photo is looked up in
  another photo of that identity; a person with no other photo is locked (its own pixels).
- `MixedScenes([(source, weight), …])`: each draw picks a source by weight.

`scene_source(spec)` builds one from a training config's `data`: `None` or `"world"`, a dataset
folder (or `{"dataset": FOLDER, "streaming": true, "workers": N}`: the canvas task then streams the
dataset's photos as targets, `training/stream.py`), or a list of `{"source": "world" | FOLDER, "weight": w}`.
`PinnedScenes(scenes, n)` is the source of one streamed target: each draw's target is photo n.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..world.layout import image_spec, scene
from ..world.prompts import canvas_prompt
from ..world.sample import Sample
from ..world.scene import render
from ..world.splits import check_split, scene_range

IMAGES_PER_SCENE = 8


class _WorldView:
    def __init__(self, sc) -> None:
        self.sc = sc
        self.n_images = IMAGES_PER_SCENE

    def n_people(self, i: int) -> int:
        return len(self.sc.identities)

    def image(self, i: int, size: int) -> Sample:
        return render(image_spec(self.sc, i, size, size))

    def other_index(self, target: int, rng: np.random.Generator) -> int:
        return int((target + 1 + rng.integers(IMAGES_PER_SCENE - 1)) % IMAGES_PER_SCENE)

    def other(self, target: int, identity, rng: np.random.Generator, size: int) -> tuple[Sample, int] | None:
        ref = self.image(self.other_index(target, rng), size)
        return ref, [p["identity"] for p in ref.meta["people"]].index(identity)

    @staticmethod
    def key_of(sample: Sample) -> str:
        return ""

    @staticmethod
    def annotate(meta: dict, layer_sources: dict) -> dict:
        return meta  # world examples keep the rendered meta as it is

    @staticmethod
    def prompt(sample: Sample, rng: np.random.Generator) -> str:
        return canvas_prompt(sample.meta, rng)


class WorldScenes:
    """Training-split scenes of the procedural world."""

    name = "world"

    def draw(self, rng: np.random.Generator, n_people: int | None = None) -> _WorldView:
        lo, hi = scene_range("train")
        sid = int(rng.integers(lo, hi))
        sc = scene(sid, n_people=n_people)
        check_split("train", scenes=[sid], identities=sc.identities)
        return _WorldView(sc)


class _DatasetView:
    def __init__(self, owner: DatasetScenes, images: list[int]) -> None:
        self.owner, self.images = owner, images
        self.n_images = len(images)

    def n_people(self, i: int) -> int:
        return len(self.owner.ds.images[self.images[i]]["identities"])

    def image(self, i: int, size: int) -> Sample:
        return self.owner.fitted(self.images[i], size)

    def other_index(self, target: int, rng: np.random.Generator) -> int:
        if self.n_images < 2:
            return target
        return int((target + 1 + rng.integers(self.n_images - 1)) % self.n_images)

    def other(self, target: int, identity, rng: np.random.Generator, size: int) -> tuple[Sample, int] | None:
        """`identity` in another photo of the dataset (any scene: identities define scenes), or None."""
        if identity is None:
            return None
        n = self.images[target]
        others = [m for m in self.owner.ds.identities.get(int(identity), []) if m != n]
        if not others:
            return None
        m = others[int(rng.integers(len(others)))]
        return self.owner.fitted(m, size), self.owner.ds.images[m]["identities"].index(int(identity))

    def key_of(self, sample: Sample) -> str:
        meta = sample.meta
        return f"s{meta['scene']:09d}_i{meta['index']:03d}"

    @staticmethod
    def annotate(meta: dict, layer_sources: dict) -> dict:
        """The target's meta plus, per layer id, the dataset key of the photo its pixels come from."""
        return {**meta, "layer_sources": layer_sources}

    @staticmethod
    def prompt(sample: Sample, rng: np.random.Generator) -> str:
        return sample.meta.get("caption") or sample.meta.get("prompt") or ""


class _PinnedView(_DatasetView):
    """A view whose target is its first image: `n_images` is 1 for the recipe's draw of the target, while
    `other_index` picks among the rest (the scene mates, or the identity's other single-person photos)."""

    def __init__(self, owner: DatasetScenes, images: list[int]) -> None:
        super().__init__(owner, images)
        self.n_images, self._count = 1, len(images)

    def other_index(self, target: int, rng: np.random.Generator) -> int:
        return target if self._count < 2 else int(1 + rng.integers(self._count - 1))


class PinnedScenes:
    """The scene source of one streamed photo: every draw is a view whose target is photo `n`."""

    def __init__(self, scenes: DatasetScenes, n: int) -> None:
        self.scenes, self.n, self.name = scenes, n, scenes.name

    def draw(self, rng: np.random.Generator, n_people: int | None = None) -> _PinnedView:
        return self.scenes.view_of(self.n, n_people)


class DatasetScenes:
    """Scenes of a prepared photo dataset (`layercraft data prepare`)."""

    def __init__(self, folder: str | Path, cache: int = 64) -> None:
        from ..data.dataset import PreparedDataset

        self.ds = PreparedDataset(folder, split="train")  # the held-out split is never drawn
        self.name = str(folder)
        if not len(self.ds):
            raise ValueError(f"{folder}: the dataset has no training images")
        self._single = {k: v for k, v in self.ds.single_person().items() if len(v) >= 2}
        self._single_keys = sorted(self._single)
        self._cache: OrderedDict[tuple[int, int], Sample] = OrderedDict()
        self._cache_size = cache
        self._scene_of = {n: k for k, sc in enumerate(self.ds.scenes) for n in sc}

    def usable(self, n: int, n_people: int | None = None) -> bool:
        """Whether photo `n` can be the target of a draw with `n_people` (`view_of`)."""
        ids = self.ds.images[n]["identities"]
        if n_people == 1:
            return len(ids) == 1 and ids[0] in self._single
        return n_people is None or len(ids) == n_people

    def view_of(self, n: int, n_people: int | None = None) -> _PinnedView:
        """A view with photo `n` as its target: its scene (`n_people` None), its identity's single-person
        photos (1), or the photo alone (another count); ValueError when `n` does not fit `n_people`."""
        if not self.usable(n, n_people):
            raise ValueError(f"{self.name}: photo {n} cannot be the target of a draw of {n_people} people")
        if n_people == 1:
            return _PinnedView(self, [n] + [m for m in self._single[self.ds.images[n]["identities"][0]] if m != n])
        if n_people is not None:
            return _PinnedView(self, [n])
        return _PinnedView(self, [n] + [m for m in self.ds.scenes[self._scene_of[n]] if m != n])

    def fitted(self, n: int, size: int) -> Sample:
        from ..data.dataset import fit_sample

        key = (n, size)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        s = fit_sample(self.ds.sample(n), size)
        self._cache[key] = s
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return s

    def draw(self, rng: np.random.Generator, n_people: int | None = None) -> _DatasetView:
        if n_people == 1:
            if not self._single_keys:
                raise ValueError(f"{self.name}: no identity has two single-person photos (needed for one_for_all)")
            ident = self._single_keys[int(rng.integers(len(self._single_keys)))]
            return _DatasetView(self, self._single[ident])
        if n_people is not None:
            pool = [n for n in self.ds.indices if len(self.ds.images[n]["identities"]) == n_people]
            if not pool:
                raise ValueError(f"{self.name}: no photo shows {n_people} people")
            return _DatasetView(self, [pool[int(rng.integers(len(pool)))]])
        scenes = self.ds.scenes
        return _DatasetView(self, scenes[int(rng.integers(len(scenes)))])


class MixedScenes:
    def __init__(self, sources: list[tuple[object, float]]) -> None:
        if not sources or any(w <= 0 for _, w in sources):
            raise ValueError("data sources need positive weights")
        self.sources = [s for s, _ in sources]
        w = np.asarray([w for _, w in sources], float)
        self.p = w / w.sum()
        self.name = "+".join(getattr(s, "name", "?") for s in self.sources)

    def draw(self, rng: np.random.Generator, n_people: int | None = None):
        return self.sources[int(rng.choice(len(self.sources), p=self.p))].draw(rng, n_people)


WORLD = WorldScenes()


STREAM_KEYS = {"dataset", "streaming", "workers"}


def stream_spec(spec) -> dict | None:
    """`data: {dataset: FOLDER, streaming: true, workers: N}` → {"dataset", "workers"}; None for the other forms
    (and for `streaming: false`, which reads the dataset by random draws like `data: FOLDER`)."""
    if not isinstance(spec, dict):
        return None
    unknown = set(spec) - STREAM_KEYS
    if unknown or "dataset" not in spec:
        raise ValueError(f"data: {{dataset: FOLDER, streaming: true|false, workers: N}}; unknown keys {sorted(unknown)}"
                         if unknown else "data: a dict needs `dataset: FOLDER`")
    workers = int(spec.get("workers", 0))
    if workers < 0:
        raise ValueError("data.workers must be ≥ 0 (0: batches are made in the training process)")
    return {"dataset": str(spec["dataset"]), "workers": workers} if spec.get("streaming", False) else None


def scene_source(spec) -> object:
    """A scene source from a config's `data`: None / "world", a dataset folder (or `{dataset: FOLDER, …}`),
    or a weighted list."""
    if spec is None or spec == "world":
        return WORLD
    if isinstance(spec, dict):
        stream_spec(spec)  # validates the keys
        return DatasetScenes(spec["dataset"])
    if isinstance(spec, (str, Path)):
        return DatasetScenes(spec)
    parts = []
    for entry in spec:
        src = entry["source"] if isinstance(entry, dict) else entry
        weight = float(entry.get("weight", 1.0)) if isinstance(entry, dict) else 1.0
        parts.append((WORLD if src == "world" else DatasetScenes(src), weight))
    return parts[0][0] if len(parts) == 1 else MixedScenes(parts)
