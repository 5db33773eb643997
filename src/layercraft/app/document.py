"""One open project: its Canvas, the pool of images its layers use, settings and result history.

The image pool outlives layers: a deleted layer's pixels stay in the pool so that the editor can
undo the deletion by sending back an older canvas state. Layers name their pixels by `image_id`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from PIL import Image
from pydantic import ValidationError

from ..canvas import Canvas, Category, Layer, Placement
from ..canvas.errors import LimitError
from ..canvas.limits import LIMITS
from .errors import ApiError
from .schemas import CanvasState, HistoryEntry, LayerPatch, LayerState, Settings


@dataclass(frozen=True)
class Asset:
    """Pixels plus what is tied to them (identity references, landmarks in image pixels)."""

    image: Image.Image
    identity_refs: tuple[Image.Image, ...] = ()
    landmarks: list[list[float]] | None = None


@dataclass
class Result:
    entry: HistoryEntry
    png: bytes


def new_id(prefix: str, taken: set[str] | dict) -> str:
    while True:
        candidate = f"{prefix}{secrets.token_hex(4)}"
        if candidate not in taken:
            return candidate


def explain(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors(include_url=False))


@dataclass
class Document:
    id: str
    name: str
    canvas: Canvas
    assets: dict[str, Asset] = field(default_factory=dict)
    layer_images: dict[str, str] = field(default_factory=dict)  # layer id → image id
    settings: Settings = field(default_factory=Settings)
    history: list[Result] = field(default_factory=list)
    revision: int = 0

    @classmethod
    def from_canvas(cls, doc_id: str, name: str, canvas: Canvas) -> Document:
        doc = cls(id=doc_id, name=name, canvas=canvas)
        for layer in canvas.all_layers():
            image_id = new_id("i", doc.assets)
            doc.assets[image_id] = Asset(layer.image, tuple(layer.identity_refs), layer.landmarks)
            doc.layer_images[layer.id] = image_id
        return doc

    # ---- views -------------------------------------------------------------------------------
    def _layer_state(self, layer: Layer) -> LayerState:
        return LayerState(id=layer.id, image_id=self.layer_images[layer.id], name=layer.name,
                          placement=layer.placement, placed=layer.placed, locked=layer.locked,
                          visible=layer.visible, category=layer.category, descriptor=layer.descriptor,
                          image_size=layer.image.size)

    def state(self) -> CanvasState:
        c = self.canvas
        bg = self._layer_state(c.background) if c.background is not None else None
        return CanvasState(width=c.width, height=c.height, prompt=c.prompt,
                           layers=[self._layer_state(layer) for layer in c.layers], background=bg)

    def snapshot(self) -> Canvas:
        """An independent copy for a generation job: later edits never reach a running job."""
        def copy(layer: Layer) -> Layer:
            return layer.model_copy(update={"placement": layer.placement.model_copy()})
        c = self.canvas
        return Canvas(width=c.width, height=c.height, prompt=c.prompt, layers=[copy(lay) for lay in c.layers],
                      background=copy(c.background) if c.background is not None else None)

    # ---- whole-state updates (the editor's autosave, undo and redo) --------------------------
    def _build_layer(self, s: LayerState) -> Layer:
        asset = self.assets.get(s.image_id)
        if asset is None:
            raise ApiError(422, "unknown_image", f"layer {s.id!r} refers to unknown image {s.image_id!r}")
        try:
            return Layer(id=s.id, name=s.name, image=asset.image, identity_refs=list(asset.identity_refs),
                         landmarks=asset.landmarks, placement=s.placement, placed=s.placed, locked=s.locked,
                         visible=s.visible, category=s.category, descriptor=s.descriptor)
        except ValidationError as err:
            raise ApiError(422, "invalid_layer", f"layer {s.id!r} is invalid: {explain(err)}") from None

    def apply_state(self, state: CanvasState) -> None:
        layers = [self._build_layer(s) for s in state.layers]
        background = self._build_layer(state.background) if state.background is not None else None
        try:
            canvas = Canvas(width=state.width, height=state.height, prompt=state.prompt, layers=layers,
                            background=background)
        except ValidationError as err:
            raise ApiError(422, "invalid_canvas", f"canvas state is invalid: {explain(err)}") from None
        self.canvas = canvas
        self.layer_images = {s.id: s.image_id for s in state.layers}
        if state.background is not None:
            self.layer_images[state.background.id] = state.background.image_id
        self.revision += 1

    # ---- layer operations -------------------------------------------------------------------
    def _taken_ids(self) -> set[str]:
        return {layer.id for layer in self.canvas.all_layers()}

    def pixels(self) -> int:
        """Decoded pixels this project holds: every distinct image in its pool (identity refs included)."""
        seen: dict[int, int] = {}
        for asset in self.assets.values():
            for im in (asset.image, *asset.identity_refs):
                seen[id(im)] = im.width * im.height
        return sum(seen.values())

    def _make_room(self, pixels: int, budget: int) -> None:
        """Refuse an image that would take the project over its pixel budget, after dropping pooled
        images no layer uses any more (the undo of their deletion then reports them unknown)."""
        if self.pixels() + pixels <= budget:
            return
        used = set(self.layer_images.values())
        self.assets = {k: a for k, a in self.assets.items() if k in used}
        if self.pixels() + pixels > budget:
            raise LimitError(f"project {self.id!r} holds {self.pixels()} decoded pixels; a {pixels}-pixel image "
                             f"would take it over its budget of {budget}")

    def add_image(self, image: Image.Image, budget: int = LIMITS.max_project_pixels) -> str:
        self._make_room(image.width * image.height, budget)
        image_id = new_id("i", self.assets)
        self.assets[image_id] = Asset(image)
        return image_id

    def _room_for_a_layer(self) -> None:
        if len(self.canvas.layers) >= LIMITS.max_layers:
            raise LimitError(f"project {self.id!r} has {len(self.canvas.layers)} layers, the limit")

    def add_layer(self, image: Image.Image, name: str, category: Category,
                  budget: int = LIMITS.max_project_pixels) -> Layer:
        """A new unlocked layer on top, fitted inside 60% of the canvas, centred (cascaded a little)."""
        self._room_for_a_layer()
        c = self.canvas
        w, h = image.size
        scale = min(1.0, 0.6 * c.width / w, 0.6 * c.height / h)
        shift = 16 * (len(c.layers) % 5)
        x = round((c.width - w * scale) / 2) + shift
        y = round((c.height - h * scale) / 2) + shift
        layer = Layer(id=new_id("l", self._taken_ids()), name=name, image=image, category=category,
                      placement=Placement(x=x, y=y, scale=scale))
        self.layer_images[layer.id] = self.add_image(image, budget)
        c.layers = [*c.layers, layer]
        self.revision += 1
        return layer

    def set_background(self, image: Image.Image, name: str, budget: int = LIMITS.max_project_pixels) -> Layer:
        """Replace the background with `image` scaled to cover the canvas, centred and locked."""
        c = self.canvas
        w, h = image.size
        scale = max(c.width / w, c.height / h)
        layer = Layer(id=new_id("bg", self._taken_ids()), name=name, image=image, category=Category.background,
                      locked=True, placement=Placement(x=(c.width - w * scale) / 2, y=(c.height - h * scale) / 2,
                                                       scale=scale))
        self.layer_images[layer.id] = self.add_image(image, budget)
        c.background = layer
        self.revision += 1
        return layer

    def find(self, layer_id: str) -> Layer:
        try:
            return self.canvas.layer(layer_id)
        except KeyError:
            raise ApiError(404, "layer_not_found", f"project {self.id!r} has no layer {layer_id!r}") from None

    def patch_layer(self, layer_id: str, patch: LayerPatch) -> Layer:
        layer = self.find(layer_id)
        try:
            if patch.placement is not None:
                changes = patch.placement.model_dump(exclude_none=True)
                layer.placement = Placement(**{**layer.placement.model_dump(), **changes})
            for name in ("name", "locked", "visible", "category"):
                value = getattr(patch, name)
                if value is not None:
                    setattr(layer, name, value)
            if "descriptor" in patch.model_fields_set:
                layer.descriptor = patch.descriptor or None
        except ValidationError as err:
            raise ApiError(422, "invalid_layer", f"layer {layer_id!r}: {explain(err)}") from None
        if patch.z is not None:
            self._reorder(layer, patch.z)
        self.revision += 1
        return layer

    def _reorder(self, layer: Layer, z: str | int) -> None:
        c = self.canvas
        if c.background is not None and layer.id == c.background.id:
            raise ApiError(409, "background_fixed", "the background layer always stays behind the other layers")
        here = c.z_index(layer.id)
        target = {"forward": here + 1, "backward": here - 1, "front": len(c.layers), "back": 0}.get(z, z)
        c.move(layer.id, int(target))

    def duplicate_layer(self, layer_id: str) -> Layer:
        layer = self.find(layer_id)
        if self.canvas.background is not None and layer.id == self.canvas.background.id:
            raise ApiError(409, "background_fixed", "the background layer cannot be duplicated")
        self._room_for_a_layer()
        p = layer.placement
        copy = layer.model_copy(update={
            "id": new_id("l", self._taken_ids()),
            "name": f"{layer.name} copy".strip(),
            "placement": p.model_copy(update={"x": p.x + 16, "y": p.y + 16}),
        })
        self.layer_images[copy.id] = self.layer_images[layer.id]
        c = self.canvas
        index = c.z_index(layer.id) + 1
        c.layers = [*c.layers[:index], copy, *c.layers[index:]]
        self.revision += 1
        return copy

    def delete_layer(self, layer_id: str) -> None:
        layer = self.find(layer_id)
        c = self.canvas
        if c.background is not None and layer.id == c.background.id:
            c.background = None
        else:
            c.layers = [lay for lay in c.layers if lay.id != layer_id]
        self.layer_images.pop(layer_id, None)
        self.revision += 1

    # ---- results ----------------------------------------------------------------------------
    def add_result(self, result: Result, keep: int) -> None:
        self.history = [*self.history, result][-keep:]

    def result(self, job_id: str) -> Result:
        for r in self.history:
            if r.entry.job_id == job_id:
                return r
        raise ApiError(404, "result_not_found", f"project {self.id!r} has no result of job {job_id!r}")
