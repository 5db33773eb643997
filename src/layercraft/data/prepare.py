"""`layercraft data prepare`: photos and videos → a resumable, sharded training dataset.

Two steps (docs/data.md):

1. Perception, item by item, in chunks of `chunk` items (a process pool, or Ray Data actors with
   `engine="ray"`; one model load per worker). Each chunk is written as `work/chunk-N.tar` (the
   items' schema-2 fields) and then `work/chunk-N.json` (every item's outcome), each to a temporary
   name first and renamed into place, so a chunk is done exactly when its `.json` exists. A run
   killed at any moment (SIGKILL included) leaves only whole chunks; `--resume` removes stray
   temporary files and unfinished chunks, and perceives only the chunks without a `.json`.
2. Finalising, over the whole dataset in item order: the filters that need every image
   (duplicates), identity clustering (persisted in `work/identities.npz`, so numbers are stable),
   identity exclusion (which also purges the person's images from `work/`), reference matching, at
   most K identities per scene, scenes, the held-out split by scene, then `shards/data-N.tar` (and
   `holdout-N.tar`; written to `shards.new/` and swapped in),
   `index.json` (random-access offsets of every sample) and `report.json` (every refusal and its
   reason). Finalising always starts over from `work/`; it is quick next to perception.

Privacy: identities are cluster numbers. The shards and `index.json` hold no source path (unless
`store_paths`); `work/plan.json` and `report.json`, inside the dataset folder, name items by their
path relative to the SOURCE argument so that a user can find a refused photo.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..vision.assets import ModelMissingError
from ..vision.errors import VisionError
from .cluster import Duplicates, IdentityClusters, cap_scene_identities, holdout_scenes, match_references, scenes
from .perceive import REASONS, Outcome, Perception, PrepareOptions, dumps, outcome_json, perceive
from .sources import Item, PlanRefusal, item_path, plan_items

PLAN_VERSION = 1


class DataError(ValueError):
    """A preparation cannot start or go on; the message (one line) says why."""


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_json(path: Path, obj) -> None:
    _atomic_bytes(path, json.dumps(obj, indent=1).encode())


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def _write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        with tarfile.open(fileobj=f, mode="w") as tar:
            for name, data in members:
                _add(tar, name, data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class Plan:
    sources: list[Path]
    options: PrepareOptions
    items: list[Item]
    refused: list[PlanRefusal]
    embedder: dict
    references: list[dict]  # {"name", "embedding"} per reference face

    def chunks(self) -> list[list[Item]]:
        c = self.options.chunk
        return [self.items[i:i + c] for i in range(0, len(self.items), c)]

    def to_json(self) -> dict:
        return {"version": PLAN_VERSION, "sources": [str(s) for s in self.sources], "options": self.options.to_json(),
                "items": [i.to_json() for i in self.items], "refused": [r.__dict__ for r in self.refused],
                "embedder": self.embedder, "references": self.references}

    @classmethod
    def from_json(cls, d: dict) -> Plan:
        return cls([Path(s) for s in d["sources"]], PrepareOptions(**d["options"]), [Item(**i) for i in d["items"]],
                   [PlanRefusal(**r) for r in d["refused"]], d["embedder"], d["references"])


def chunk_name(k: int) -> str:
    return f"chunk-{k:06d}"


def _perceive_safely(item: Item, plan: Plan, models: Perception, data: bytes | None = None) -> Outcome:
    try:
        return perceive(item, plan.sources, plan.options, models, data)
    except ModelMissingError:
        raise  # not the photo's fault: every photo would fail
    except MemoryError:
        return Outcome(item.id, "failed", f"{item.name}: out of memory")
    except Exception as err:  # one bad photo must not stop a million-photo run; it is refused, with the error
        first = str(err).splitlines()[0] if str(err) else ""
        return Outcome(item.id, "failed", f"{item.name}: {type(err).__name__}: {first}")


def write_chunk(work: Path, k: int, outcomes: list[Outcome]) -> int:
    """Write chunk `k`'s work shard (tar, then json: the chunk is done once its json exists); items kept."""
    outcomes = sorted(outcomes, key=lambda o: o.item)
    members = [(f"it{o.item:09d}.{field}", data) for o in outcomes if o.fields for field, data in o.fields.items()]
    _write_tar(work / f"{chunk_name(k)}.tar", members)
    atomic_json(work / f"{chunk_name(k)}.json", [outcome_json(o) for o in outcomes])
    return sum(o.reason is None for o in outcomes)


def run_chunk(plan: Plan, k: int, models: Perception, work: Path) -> int:
    """Perceive chunk `k` and write it (tar, then json); returns the number of items kept."""
    return write_chunk(work, k, [_perceive_safely(item, plan, models) for item in plan.chunks()[k]])


# ---- engines -------------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_pool_worker(plan_path: str, captioner: str | None, work: str) -> None:
    _WORKER["plan"] = Plan.from_json(json.loads(Path(plan_path).read_text()))
    _WORKER["models"] = Perception(captioner, threads=1)
    _WORKER["work"] = work


def _pool_chunk(k: int) -> int:
    return run_chunk(_WORKER["plan"], k, _WORKER["models"], Path(_WORKER["work"]))


def run_local(plan: Plan, todo: list[int], work: Path, workers: int, progress: Callable[[int], None]) -> None:
    if workers <= 1 or len(todo) <= 1:
        import torch

        models = Perception.shared(plan.options.captioner)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the small MTCNN convolutions: one thread is faster, and far faster on a busy machine
        try:
            for k in todo:
                run_chunk(plan, k, models, work)
                progress(k)
        finally:
            torch.set_num_threads(threads)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_pool_worker,
                             initargs=(str(work / "plan.json"), plan.options.captioner, str(work))) as pool:
        futures = {pool.submit(_pool_chunk, k): k for k in todo}
        for fut in as_completed(futures):
            fut.result()
            progress(futures[fut])


class _RayPerceive:
    """A Ray Data actor: loads the models once, and perceives the items of each file it is given (the
    rows of `read_binary_files`: a photo is one item, a video one per frame); one row out per item,
    the pickled `Outcome`."""

    def __init__(self, plan_path: str, todo: list[int]) -> None:
        import ray

        self.plan = Plan.from_json(json.loads(Path(plan_path).read_text()))
        self.models = Perception(self.plan.options.captioner, threads=1)
        if self.models.captioner is not None and ray.get_gpu_ids():
            self.models.captioner.to("cuda")  # the bundled face and person models run on the CPU
        self.items = _files_of(self.plan, todo)

    def __call__(self, batch: dict) -> dict:
        import pickle

        out: dict[str, list] = {"item": [], "outcome": []}
        for path, data in zip(batch["path"], batch["bytes"], strict=True):
            for item in self.items[_path_key(path)]:
                out["item"].append(item.id)
                out["outcome"].append(pickle.dumps(_perceive_safely(item, self.plan, self.models, bytes(data))))
        return {"item": np.asarray(out["item"], np.int64), "outcome": np.asarray(out["outcome"], dtype=object)}


def _path_key(path: str) -> str:
    return os.path.normpath(os.path.abspath(str(path).removeprefix("local://")))


def _files_of(plan: Plan, todo: list[int]) -> dict[str, list[Item]]:
    """file → its items, over the chunks `todo` (a video file has one item per frame)."""
    files: dict[str, list[Item]] = {}
    chunks = plan.chunks()
    for k in todo:
        for item in chunks[k]:
            files.setdefault(_path_key(item_path(plan.sources, item)), []).append(item)
    return files


def run_ray(plan: Plan, todo: list[int], work: Path, workers: int, progress: Callable[[int], None],
            gpus_per_worker: float = 0.0) -> None:
    """Ray Data: `read_binary_files` over the files of the chunks to do, `map_batches` of `_RayPerceive`
    actors (`workers` of them, one model load each, `gpus_per_worker` GPUs each, else one CPU), and the
    driver writes each chunk's work shard once all its items are back (in order: `preserve_order`)."""
    import pickle

    try:
        import ray
    except ImportError as err:
        raise DataError(f"--engine ray needs ray[data] installed ({err})") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True  # chunks come back whole, one after another
    chunks = plan.chunks()
    chunk_of = {item.id: k for k in todo for item in chunks[k]}
    pending: dict[int, dict[int, Outcome]] = {k: {} for k in todo}
    files = list(_files_of(plan, todo))
    # reading is I/O: its tasks take no CPU (actors holding every CPU must not starve the reader), about one
    # read task per chunk, and one reader for every four actors
    ds = ray.data.read_binary_files(files, include_paths=True, override_num_blocks=max(1, min(len(files), len(todo))),
                                    num_cpus=0, concurrency=max(1, workers // 4))
    resources = {"num_gpus": gpus_per_worker} if gpus_per_worker > 0 else {"num_cpus": 1}
    ds = ds.map_batches(_RayPerceive, fn_constructor_kwargs={"plan_path": str(work / "plan.json"), "todo": todo},
                        batch_size=1, compute=ray.data.ActorPoolStrategy(size=max(1, workers)), **resources)
    for row in ds.iter_rows():
        k = chunk_of[int(row["item"])]
        pending[k][int(row["item"])] = pickle.loads(row["outcome"])
        if len(pending[k]) == len(chunks[k]):
            write_chunk(work, k, list(pending.pop(k).values()))
            progress(k)
    if pending:
        raise DataError(f"Ray Data returned no outcome for some items of chunks {sorted(pending)}")


# ---- finalising ----------------------------------------------------------------------------------


def _load_outcomes(work: Path, n_chunks: int, dim: int) -> tuple[list[dict], np.ndarray]:
    """Every item's outcome, and the faces' embeddings: those move out of the summaries (each summary keeps
    `row`, the first of its faces' rows) into `work/embeddings.f16`, float16 (dim · 2 bytes per face), read
    back memory-mapped, so that finalising holds one chunk's embeddings at a time."""
    out, rows = [], 0
    path = work / "embeddings.f16"
    with open(path.with_name(path.name + ".tmp"), "wb") as f:
        for k in range(n_chunks):
            for o in json.loads((work / f"{chunk_name(k)}.json").read_text()):
                s = o["summary"]
                if s is not None:
                    e = np.asarray(s.pop("embeddings"), np.float16).reshape(-1, dim)
                    f.write(e.tobytes())
                    s["row"], rows = rows, rows + len(e)
                out.append(o)
    os.replace(path.with_name(path.name + ".tmp"), path)
    emb = np.memmap(path, np.float16, "r", shape=(rows, dim)) if rows else np.zeros((0, dim), np.float16)
    return out, emb


def _purge(work: Path, plan: Plan, items: set[int], reason: str) -> None:
    """Remove `items` from the work shards (pixels and embeddings), marking them refused."""
    for k, chunk in enumerate(plan.chunks()):
        ids = {i.id for i in chunk} & items
        if not ids:
            continue
        outcomes = json.loads((work / f"{chunk_name(k)}.json").read_text())
        members = []
        with tarfile.open(work / f"{chunk_name(k)}.tar") as tar:
            for m in tar:
                if int(m.name[2:11]) not in ids:
                    members.append((m.name, tar.extractfile(m).read()))
        _write_tar(work / f"{chunk_name(k)}.tar", members)
        for o in outcomes:
            if o["item"] in ids:
                o.update(reason=reason, detail=f"item {o['item']}: shows an excluded identity", summary=None)
        atomic_json(work / f"{chunk_name(k)}.json", outcomes)


def finalize(out: Path, plan: Plan) -> dict:
    work = out / "work"
    opts = plan.options
    chunks = plan.chunks()
    outcomes, face_emb = _load_outcomes(work, len(chunks), plan.embedder["dim"])
    by_item = {o["item"]: o for o in outcomes}
    refusals = [{"item": None, "name": r.name, "reason": r.reason, "detail": r.detail} for r in plan.refused]
    kept: list[int] = []
    for item in plan.items:
        o = by_item[item.id]
        if o["reason"] is not None:
            refusals.append({"item": item.id, "name": item.name, "reason": o["reason"], "detail": o["detail"]})
            continue
        n_ident = sum(o["summary"]["identifiable"])  # identifiable faces: each its own identity
        if n_ident > opts.max_identities:  # a scene of at most K identities can never hold it (no clustering)
            refusals.append({"item": item.id, "name": item.name, "reason": "too_many_identities",
                             "detail": f"{item.name}: {n_ident} identities > {opts.max_identities}"})
            continue
        kept.append(item.id)
    dups = Duplicates(opts.dup_distance)
    unique = []
    for i in kept:
        other = dups.check(i, int(by_item[i]["summary"]["hash"], 16))
        if other is not None:
            refusals.append({"item": i, "name": plan.items[i].name, "reason": "duplicate",
                             "detail": f"{plan.items[i].name}: a near-copy of {plan.items[other].name}"})
        else:
            unique.append(i)
    # identities
    emb = plan.embedder
    clusters = IdentityClusters(emb["threshold"], emb["metric"], emb["dim"])
    labels: dict[int, list[int]] = {}
    state_path = work / "identities.npz"
    if state_path.is_file():
        with np.load(state_path) as st:
            clusters.load(st)
            labels = {int(k): v for k, v in json.loads(str(st["labels"])).items()}
    for i in unique:
        if i in labels:
            continue
        s = by_item[i]["summary"]
        idx = [j for j, ok in enumerate(s["identifiable"]) if ok]
        lab = clusters.assign(np.asarray(face_emb[[s["row"] + j for j in idx]], np.float32)) if idx else []
        full = [-1] * s["n_people"]
        for j, lbl in zip(idx, lab, strict=True):
            full[j] = int(lbl)
        labels[i] = full
    buf = io.BytesIO()
    np.savez(buf, **clusters.state(), labels=np.asarray(json.dumps({str(k): v for k, v in labels.items()})))
    _atomic_bytes(state_path, buf.getvalue())
    excluded = set(opts.exclude)
    purge = {i for i in unique if excluded & set(labels[i])}
    if purge:
        _purge(work, plan, purge, "excluded_identity")
        for i in sorted(purge):
            refusals.append({"item": i, "name": plan.items[i].name, "reason": "excluded_identity",
                             "detail": f"{plan.items[i].name}: shows an excluded identity"})
        unique = [i for i in unique if i not in purge]
    # references (AnyPhoto): each reference face matched to at most one face per image
    ref_emb = np.asarray([r["embedding"] for r in plan.references], np.float32)
    ref_emb = ref_emb.reshape(len(plan.references), emb["dim"])
    references: dict[int, list[int | None]] = {}
    for i in unique:
        s = by_item[i]["summary"]
        refs: list[int | None] = [None] * s["n_people"]
        faces = [j for j, ok in enumerate(s["has_face"]) if ok]
        if len(ref_emb) and faces:
            pairs = match_references(ref_emb, np.asarray(face_emb[[s["row"] + j for j in faces]], np.float32),
                                     emb["metric"], emb["threshold"])
            for r, c in pairs:
                refs[faces[c]] = r
        references[i] = refs
    # at most K identities per scene: drop the group photos that join too many people, largest groups first
    over = cap_scene_identities([labels[i] for i in unique], opts.max_identities)
    for g in sorted(over):
        i = unique[g]
        n_ident = len({lbl for lbl in labels[i] if lbl >= 0})
        refusals.append({"item": i, "name": plan.items[i].name, "reason": "too_many_identities",
                         "detail": f"{plan.items[i].name}: its {n_ident} people join a scene of {over[g]} "
                                   f"identities > {opts.max_identities}"})
    unique = [i for g, i in enumerate(unique) if g not in over]
    groups = scenes([labels[i] for i in unique])
    # the held-out split, by scene: a scene's key is its smallest identity (or item), which resuming keeps
    scene_keys = []
    for group in groups:
        ids = [lbl for g in group for lbl in labels[unique[g]] if lbl >= 0]
        scene_keys.append(f"identity:{min(ids)}" if ids else f"item:{min(unique[g] for g in group)}")
    held = holdout_scenes(scene_keys, opts.holdout)
    place = {}
    for sid, group in enumerate(groups):
        for pos, g in enumerate(group):
            place[unique[g]] = (sid, pos)
    # shards: streamed into one open tar per split at a time (memory: one chunk's records); train shards
    # are data-N.tar, held-out ones holdout-N.tar, so that the two splits never share a shard
    new = out / "shards.new"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    shard_names: list[str] = []
    shard_splits: list[str] = []
    records: list[dict] = []
    writers = {split: _ShardWriter(new, prefix, opts.per_shard)
               for split, prefix in (("train", "data"), ("holdout", "holdout"))}

    def closed(split: str, name: str, recs: list[dict]) -> None:
        for r in recs:
            r["shard"] = len(shard_names)
        shard_names.append(name)
        shard_splits.append(split)
        records.extend(recs)

    keep = set(unique)
    for k in range(len(chunks)):
        with tarfile.open(work / f"{chunk_name(k)}.tar") as tar:
            fields: dict[int, dict[str, bytes]] = {}
            for m in tar:
                item, field = int(m.name[2:11]), m.name.split(".", 1)[1]
                if item in keep:
                    fields.setdefault(item, {})[field] = tar.extractfile(m).read()
        for item in sorted(fields):
            sid, pos = place[item]
            split = "holdout" if held[sid] else "train"
            meta = json.loads(fields[item]["json"])
            for p, lbl, ref in zip(meta["people"], labels[item], references[item], strict=True):
                p["identity"] = lbl if lbl >= 0 else None
                p["reference"] = ref
            meta["scene"], meta["index"], meta["split"] = sid, pos, split
            key = f"s{sid:09d}_i{pos:03d}"
            fields[item]["json"] = dumps(meta)
            rec = {"key": key, "scene": sid, "index": pos, "identities": list(labels[item]),
                   "references": references[item], "split": split}
            done = writers[split].add(key, fields[item], rec)
            if done:
                closed(split, *done)
        del fields
    for split, w in writers.items():
        done = w.close()
        if done:
            closed(split, *done)
    old = out / "shards"
    if old.exists():
        shutil.rmtree(old)
    os.replace(new, old)
    records.sort(key=lambda r: (r["scene"], r["index"]))
    identity_images: dict[int, list[int]] = {}
    for n, r in enumerate(records):
        for lbl in set(r["identities"]):
            if lbl >= 0:
                identity_images.setdefault(lbl, []).append(n)
    splits = {}
    for split in ("train", "holdout"):
        recs = [r for r in records if r["split"] == split]
        splits[split] = {"images": len(recs), "scenes": len({r["scene"] for r in recs}),
                         "identities": len({i for r in recs for i in r["identities"] if i >= 0}),
                         "shards": [n for n, s in enumerate(shard_splits) if s == split]}
    counts = Counter(r["reason"] for r in refusals)
    summary = {"images": len(records), "scenes": len(groups), "identities": len(identity_images),
               "layers": int(sum(len(r["identities"]) for r in records)), "refused": len(refusals),
               "refusals": dict(sorted(counts.items())), "items": len(plan.items) + len(plan.refused),
               "holdout": {"images": splits["holdout"]["images"], "scenes": splits["holdout"]["scenes"]}}
    index = {"schema": 2, "source": "photos", "shards": shard_names, "images": records,
             "scenes": [[n for n, r in enumerate(records) if r["scene"] == s] for s in range(len(groups))],
             "identities": {str(k): v for k, v in sorted(identity_images.items())}, "counts": summary,
             "embedder": emb, "references": [r["name"] for r in plan.references], "excluded": sorted(excluded),
             "split": {"fraction": opts.holdout, "by": "scene (hash of its smallest identity)", **splits}}
    atomic_json(out / "report.json", {"counts": summary, "reasons": REASONS, "refusals": refusals})
    atomic_json(out / "index.json", index)
    return summary


class _ShardWriter:
    """Output shards of one split: `PREFIX-N.tar`, `per_shard` samples each, each written to a temporary name
    and renamed once complete; `add` and `close` return (name, records with their byte offsets) per shard."""

    def __init__(self, folder: Path, prefix: str, per_shard: int) -> None:
        self.folder, self.prefix, self.per_shard = folder, prefix, per_shard
        self.count, self.current = 0, []
        self.fh = self.tar = None

    def add(self, key: str, fields: dict[str, bytes], rec: dict) -> tuple[str, list[dict]] | None:
        if self.tar is None:
            self.fh = open(self.folder / f"{self.prefix}-{self.count:06d}.tar.tmp", "wb")  # noqa: SIM115 (close)
            self.tar = tarfile.open(fileobj=self.fh, mode="w")
        for field in ("rgb.png", "plate.png", "gt.npz", "json"):
            _add(self.tar, f"{key}.{field}", fields[field])
        self.current.append(rec)
        return self.close() if len(self.current) >= self.per_shard else None

    def close(self) -> tuple[str, list[dict]] | None:
        if self.tar is None:
            return None
        self.tar.close()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        name = f"{self.prefix}-{self.count:06d}.tar"
        os.replace(self.folder / (name + ".tmp"), self.folder / name)
        with tarfile.open(self.folder / name) as t:
            offsets = {m.name: [m.offset_data, m.size] for m in t}
        recs, self.current = self.current, []
        for r in recs:
            r["offsets"] = {fld: offsets[f"{r['key']}.{fld}"] for fld in ("rgb.png", "plate.png", "gt.npz", "json")}
        self.count += 1
        self.fh = self.tar = None
        return name, recs


# ---- entry point ---------------------------------------------------------------------------------


def _reference_faces(folder: Path, models: Perception) -> list[dict]:
    from ..vision.photo import load_photo

    refs = []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        try:
            faces = models.faces.detect(load_photo(path), embed=True)
        except VisionError as err:
            raise DataError(f"reference {path.name}: {err}") from None
        if not faces:
            raise DataError(f"reference {path.name}: no face found")
        refs.append({"name": path.stem, "embedding": [round(float(v), 6) for v in faces[0].embedding]})
    if not refs:
        raise DataError(f"{folder}: no reference photos")
    return refs


def prepare(sources: list[Path], out: Path, options: PrepareOptions | None = None, *, engine: str = "local",
            workers: int | None = None, resume: bool = False, exclude: list[int] | None = None,
            gpus_per_worker: float = 0.0, log: Callable[[str], None] = lambda s: None) -> dict:
    """Prepare (or resume) the dataset `out` from `sources`; returns the counts of `data info`."""
    out = Path(out)
    work = out / "work"
    plan_path = work / "plan.json"
    workers = workers or max(1, (os.cpu_count() or 1))
    if engine not in ("local", "ray"):
        raise DataError(f"unknown engine {engine!r}; choose local or ray")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise DataError(f"{out} already exists: pass --resume to continue it, or choose another --out")
        if not plan_path.is_file():
            raise DataError(f"{out} is not a layercraft dataset (no work/plan.json): cannot resume it")
        plan = Plan.from_json(json.loads(plan_path.read_text()))
        given = [str(Path(s).resolve()) for s in sources]
        if given and given != [str(s) for s in plan.sources]:
            raise DataError(f"{out} was prepared from {[str(s) for s in plan.sources]}, not {given}")
        if exclude:
            plan.options.exclude = sorted(set(plan.options.exclude) | set(exclude))
            atomic_json(plan_path, plan.to_json())
    else:
        if not sources:
            raise DataError("give at least one SOURCE folder or file")
        for s in sources:
            if not Path(s).exists():
                raise DataError(f"{s}: no such file or folder")
        options = options or PrepareOptions()
        if exclude:
            options.exclude = sorted(set(exclude))
        if options.captioner and not (Path(options.captioner) / "config.json").is_file():
            raise DataError(f"--captioner {options.captioner}: not a model folder (no config.json)")
        if options.chunk < 1 or options.per_shard < 1:
            raise DataError("--chunk and --per-shard must be at least 1")
        if not 0 <= options.holdout < 1:
            raise DataError("--holdout must be at least 0 and under 1")
        items, refused = plan_items([Path(s) for s in sources], options.every)
        models = Perception.shared()
        refs = _reference_faces(Path(options.references), models) if options.references else []
        plan = Plan([Path(s).resolve() for s in sources], options, items, refused, models.embedder_info, refs)
        work.mkdir(parents=True, exist_ok=True)
        atomic_json(plan_path, plan.to_json())
    # a killed run leaves temporary files and, at worst, a chunk tar without its json: both are redone
    for p in work.glob("*.tmp"):
        p.unlink()
    n_chunks = len(plan.chunks())
    todo = [k for k in range(n_chunks) if not (work / f"{chunk_name(k)}.json").is_file()]
    log(f"{len(plan.items)} items in {n_chunks} chunks; {n_chunks - len(todo)} done, {len(todo)} to perceive "
        f"({engine} engine, {workers} workers)")
    t0, done = time.perf_counter(), [0]

    def progress(k: int) -> None:
        done[0] += 1
        log(f"chunk {k} done ({done[0]}/{len(todo)}, {time.perf_counter() - t0:.1f} s)")

    if todo and engine == "ray":
        run_ray(plan, todo, work, workers, progress, gpus_per_worker)
    elif todo:
        run_local(plan, todo, work, workers, progress)
    return finalize(out, plan)
