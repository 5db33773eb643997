// The layers panel (front layer first, background last) and the selected layer's properties.

import { button, byId, el } from "./dom";
import type { Editor } from "./editor";
import { imageUrl } from "./images";
import { duplicate, moveZ, remove, type ZMove } from "./ops";
import { CATEGORIES, type Category, type LayerState, type Placement } from "./types";

export class LayersPanel {
  private readonly list = byId("layer-list");
  private readonly props = byId("layer-props");

  constructor(private readonly editor: Editor) {
    editor.onChange(() => this.render());
  }

  render(): void {
    const { canvas } = this.editor;
    const rows = [...canvas.layers].reverse().map((layer) => this.row(layer, false));
    if (canvas.background) rows.push(this.row(canvas.background, true));
    if (rows.length === 0) rows.push(el("li", { class: "empty" }, "No layers yet: add an image."));
    this.list.replaceChildren(...rows);
    this.renderProps();
  }

  private row(layer: LayerState, isBackground: boolean): HTMLLIElement {
    const e = this.editor;
    const classes = ["layer-row", layer.locked ? "locked" : "", layer.id === e.selected ? "selected" : ""];
    const li = el("li", { class: classes.join(" ").trim(), "data-layer": layer.id });
    const thumb = el("img", { src: imageUrl(e.projectId, layer.image_id), alt: "" });
    const label = el("span", { class: "name" }, layer.name || layer.id, isBackground ? " (background)" : "");
    const lock = button(layer.locked ? "Locked" : "Lock", layer.locked ? "Unlock layer" : "Lock layer",
      () => e.editLayer(layer.id, (l) => (l.locked = !l.locked)),
      { class: "lock", "aria-pressed": String(layer.locked) });
    const eye = button(layer.visible ? "Shown" : "Hidden", layer.visible ? "Hide layer" : "Show layer",
      () => e.editLayer(layer.id, (l) => (l.visible = !l.visible)),
      { class: "visibility", "aria-pressed": String(layer.visible) });
    if (layer.locked) label.append(el("span", { class: "lock-badge" }, "LOCKED"));
    if (!layer.visible) li.classList.add("hidden-layer");
    li.append(thumb, label, lock, eye);
    li.addEventListener("click", () => e.select(layer.id));
    return li;
  }

  private renderProps(): void {
    const e = this.editor;
    const layer = e.selectedLayer();
    if (!layer) {
      this.props.replaceChildren(el("p", { class: "hint" }, "Select a layer to edit it."));
      return;
    }
    const isBg = e.isBackground(layer.id);
    const set = (change: (l: LayerState) => void) => e.editLayer(layer.id, change);
    const name = textInput("prop-name", layer.name, (v) => set((l) => (l.name = v)));
    const descriptor = textInput("prop-descriptor", layer.descriptor ?? "",
      (v) => set((l) => (l.descriptor = v.trim() ? v : null)), "e.g. a woman in a red coat");
    const category = el("select", { id: "prop-category" });
    for (const c of isBg ? (["background"] as Category[]) : CATEGORIES) {
      const option = el("option", { value: c }, c.replace("_", " "));
      option.selected = c === layer.category;
      category.append(option);
    }
    category.addEventListener("change", () => set((l) => (l.category = category.value as Category)));
    const numbers = (["x", "y", "scale", "rotation"] as const).map((key) =>
      field(key, numberInput(`prop-${key}`, layer.placement[key], (v) => set((l) => setPlacement(l, key, v)))));
    const z = (move: ZMove, label: string) =>
      button(label, `Move ${move}`, () => e.edit((c) => moveZ(c, layer.id, move)), { "data-z": move });
    const actions = el("div", { class: "actions" },
      button("Flip H", "Flip horizontally", () => set((l) => (l.placement.flip_h = !l.placement.flip_h))),
      button("Flip V", "Flip vertically", () => set((l) => (l.placement.flip_v = !l.placement.flip_v))),
      button(layer.locked ? "Unlock" : "Lock", "Toggle lock", () => set((l) => (l.locked = !l.locked)),
        { id: "prop-lock" }),
    );
    const order = isBg ? el("div") : el("div", { class: "actions" },
      z("forward", "Forward"), z("backward", "Backward"), z("front", "To front"), z("back", "To back"));
    const manage = el("div", { class: "actions" },
      ...(isBg ? [] : [button("Duplicate", "Duplicate layer", () => {
        let copy: string | null = null;
        e.edit((c) => (copy = duplicate(c, layer.id)));
        e.select(copy);
      }, { id: "duplicate" })]),
      button("Delete", "Delete layer", () => e.edit((c) => remove(c, layer.id)), { id: "delete", class: "danger" }),
    );
    this.props.replaceChildren(
      el("h3", {}, isBg ? "Background" : "Layer"),
      field("name", name), field("category", category), field("descriptor", descriptor),
      el("div", { class: "grid" }, ...numbers), actions, order, manage);
  }
}

function setPlacement(layer: LayerState, key: keyof Placement, value: number): void {
  if (key === "scale" && !(value > 0)) return;
  (layer.placement as unknown as Record<string, number>)[key] = value;
}

function field(label: string, input: HTMLElement): HTMLLabelElement {
  return el("label", { class: "field" }, el("span", {}, label), input);
}

function textInput(id: string, value: string, onCommit: (v: string) => void, placeholder = ""): HTMLInputElement {
  const input = el("input", { id, type: "text", placeholder });
  input.value = value;
  input.addEventListener("change", () => onCommit(input.value));
  return input;
}

function numberInput(id: string, value: number, onCommit: (v: number) => void): HTMLInputElement {
  const input = el("input", { id, type: "number", step: "any" });
  input.value = String(value);
  input.addEventListener("change", () => {
    const v = Number(input.value);
    if (Number.isFinite(v)) onCommit(v);
  });
  return input;
}
