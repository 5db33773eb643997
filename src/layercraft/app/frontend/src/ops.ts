// Layer edits as pure functions on a canvas state (the Editor wraps each in one undo step).

import { allLayerIds, newLayerId } from "./editor";
import type { CanvasState } from "./types";

export type ZMove = "forward" | "backward" | "front" | "back";

export function moveZ(canvas: CanvasState, id: string, move: ZMove): void {
  const from = canvas.layers.findIndex((layer) => layer.id === id);
  if (from < 0) return;
  const last = canvas.layers.length - 1;
  const to = { forward: Math.min(last, from + 1), backward: Math.max(0, from - 1), front: last, back: 0 }[move];
  const [layer] = canvas.layers.splice(from, 1);
  canvas.layers.splice(to, 0, layer);
}

export function duplicate(canvas: CanvasState, id: string): string | null {
  const index = canvas.layers.findIndex((layer) => layer.id === id);
  if (index < 0) return null;
  const copy = structuredClone(canvas.layers[index]);
  copy.id = newLayerId(allLayerIds(canvas));
  copy.name = `${copy.name} copy`.trim();
  copy.placement.x += 16;
  copy.placement.y += 16;
  canvas.layers.splice(index + 1, 0, copy);
  return copy.id;
}

export function remove(canvas: CanvasState, id: string): void {
  if (canvas.background?.id === id) canvas.background = null;
  canvas.layers = canvas.layers.filter((layer) => layer.id !== id);
}
