// The canvas view: Konva nodes rebuilt from the editor state; drag/transform end in one undoable edit.

import Konva from "konva";
import { type Editor, findLayer } from "./editor";
import { loadImage } from "./images";
import { fromNode, toNode } from "./placement";
import type { LayerState } from "./types";

const MAX_VIEW = 560;
const LOCKED = "#d22f2f";
const SELECTED = "#2b6fe0";

export class StageView {
  readonly stage: Konva.Stage;
  private readonly content = new Konva.Layer();
  private readonly overlay = new Konva.Layer();
  private readonly transformer: Konva.Transformer;
  private readonly images = new Map<string, HTMLImageElement>();
  private readonly nodes = new Map<string, Konva.Group>();
  private readonly paper = new Konva.Rect({ name: "paper", fill: "#fff" });
  viewScale = 1;

  constructor(
    container: HTMLDivElement,
    private readonly editor: Editor,
  ) {
    this.stage = new Konva.Stage({ container, width: MAX_VIEW, height: MAX_VIEW });
    this.transformer = new Konva.Transformer({
      rotateEnabled: true,
      keepRatio: true,
      flipEnabled: false,
      enabledAnchors: ["top-left", "top-right", "bottom-left", "bottom-right"],
      anchorSize: 10,
      borderStroke: SELECTED,
      anchorStroke: SELECTED,
      boundBoxFunc: (old, box) => (Math.abs(box.width) < 8 || Math.abs(box.height) < 8 ? old : box),
    });
    this.overlay.add(this.transformer);
    this.content.add(this.paper);
    this.stage.add(this.content, this.overlay);
    this.stage.on("mousedown touchstart", (e) => {
      if (e.target === this.stage || e.target.name() === "paper") editor.select(null);
    });
    editor.onChange(() => this.render());
  }

  render(): void {
    const { canvas, projectId } = this.editor;
    this.viewScale = Math.min(MAX_VIEW / canvas.width, MAX_VIEW / canvas.height);
    this.stage.size({ width: canvas.width * this.viewScale, height: canvas.height * this.viewScale });
    for (const layer of [this.content, this.overlay]) layer.scale({ x: this.viewScale, y: this.viewScale });
    this.paper.size({ width: canvas.width, height: canvas.height });
    this.overlay.find(".badge").forEach((node) => node.destroy());
    const layers = [...(canvas.background ? [canvas.background] : []), ...canvas.layers];
    const keep = new Set<string>();
    let selectedNode: Konva.Group | null = null;
    let z = 1;
    for (const layer of layers) {
      if (!layer.placed || !layer.image_size) continue;
      const image = this.images.get(layer.image_id);
      if (!image) {
        loadImage(projectId, layer.image_id).then((img) => {
          this.images.set(layer.image_id, img);
          this.render();
        }, () => {});
        continue;
      }
      const group = this.update(layer, image);
      keep.add(layer.id);
      group.zIndex(z++);
      if (layer.visible && layer.locked) this.overlay.add(this.badge(group, layer));
      if (layer.id === this.editor.selected && layer.visible) selectedNode = group;
    }
    for (const [id, node] of this.nodes) {
      if (!keep.has(id)) {
        node.destroy();
        this.nodes.delete(id);
      }
    }
    const movable = selectedNode && !this.editor.selectedLayer()?.locked;
    this.transformer.nodes(movable && selectedNode ? [selectedNode] : []);
    this.transformer.moveToTop();
    this.stage.batchDraw();
  }

  /** The layer's node, created once per layer id and brought up to date with its state. */
  private update(layer: LayerState, image: HTMLImageElement): Konva.Group {
    const [w, h] = layer.image_size!;
    let group = this.nodes.get(layer.id);
    if (!group) {
      group = this.create(layer.id);
      this.nodes.set(layer.id, group);
      this.content.add(group);
    }
    const selected = layer.id === this.editor.selected;
    if (!group.isDragging()) group.setAttrs(toNode(layer.placement, w, h));
    group.setAttrs({ draggable: !layer.locked, visible: layer.visible });
    group.findOne<Konva.Image>(".pixels")!.setAttrs({ image, width: w, height: h });
    group.findOne<Konva.Rect>(".outline")!.setAttrs({
      width: w,
      height: h,
      visible: layer.locked || selected,
      stroke: layer.locked ? LOCKED : SELECTED,
      dash: layer.locked ? [] : [6, 4],
    });
    return group;
  }

  private create(id: string): Konva.Group {
    const group = new Konva.Group({ id: `layer-${id}`, name: "layer" });
    group.add(new Konva.Image({ name: "pixels", image: undefined }));
    group.add(new Konva.Rect({ name: "outline", strokeWidth: 2, strokeScaleEnabled: false, listening: false }));
    group.on("mousedown touchstart", () => this.editor.select(id));
    const commit = () => {
      const size = findLayer(this.editor.canvas, id)?.image_size;
      if (size) this.editor.editLayer(id, (l) => (l.placement = fromNode(group, size[0], size[1])));
    };
    group.on("dragend", commit);
    group.on("transformend", commit);
    return group;
  }

  private badge(group: Konva.Group, layer: LayerState): Konva.Label {
    const box = group.getClientRect({ relativeTo: this.content });
    const label = new Konva.Label({ name: "badge", x: Math.max(0, box.x), y: Math.max(0, box.y), listening: false });
    label.add(new Konva.Tag({ fill: LOCKED, cornerRadius: 3 }));
    label.add(new Konva.Text({
      text: `LOCKED ${layer.name}`.trim(),
      fontSize: 11 / this.viewScale,
      padding: 3 / this.viewScale,
      fill: "#fff",
      fontFamily: "sans-serif",
    }));
    return label;
  }

  /** Page coordinates of a canvas point (for tests and tooling). */
  toPage(x: number, y: number): { x: number; y: number } {
    const rect = this.stage.container().getBoundingClientRect();
    return { x: rect.left + x * this.viewScale, y: rect.top + y * this.viewScale };
  }
}
