// The editor's document: canvas state with undo/redo, settings, selection, and change notification.

import { Autosave } from "./autosave";
import type { CanvasState, HistoryEntry, LayerState, ProjectView, Settings } from "./types";
import { UndoStack } from "./undo";

export const UNDO_LIMIT = 100;

function clone<T>(value: T): T {
  return structuredClone(value);
}

export function newLayerId(taken: Set<string>): string {
  for (;;) {
    const id = "l" + Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0");
    if (!taken.has(id)) return id;
  }
}

export class Editor {
  projectId = "";
  projectName = "";
  canvas!: CanvasState;
  settings!: Settings;
  history: HistoryEntry[] = [];
  selected: string | null = null;
  readonly undoStack = new UndoStack<CanvasState>(UNDO_LIMIT);
  readonly autosave = new Autosave(() => ({
    projectId: this.projectId,
    canvas: this.canvas,
    settings: this.settings,
  }));
  private listeners: Array<() => void> = [];

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Open a project as the server has it; the undo history starts empty. */
  open(view: ProjectView): void {
    this.projectId = view.id;
    this.projectName = view.name;
    this.canvas = view.canvas;
    this.settings = view.settings;
    this.history = view.history;
    this.selected = null;
    this.undoStack.clear();
    this.notify();
  }

  /** Take a canvas the server changed (upload, background from result) as one undoable edit. */
  adoptServerCanvas(view: ProjectView, select: string | null = this.selected): void {
    this.undoStack.record(clone(this.canvas));
    this.canvas = view.canvas;
    this.history = view.history;
    this.selected = select;
    this.notify();
  }

  /** Apply one edit to a copy of the canvas; it becomes one undo step and is autosaved. */
  edit(change: (canvas: CanvasState) => void): void {
    const next = clone(this.canvas);
    change(next);
    if (JSON.stringify(next) === JSON.stringify(this.canvas)) return;
    this.undoStack.record(this.canvas);
    this.canvas = next;
    this.autosave.schedule();
    this.notify();
  }

  editLayer(id: string, change: (layer: LayerState) => void): void {
    this.edit((canvas) => {
      const layer = findLayer(canvas, id);
      if (layer) change(layer);
    });
  }

  setSettings(settings: Settings): void {
    this.settings = settings;
    this.autosave.schedule();
    this.notify();
  }

  setHistory(history: HistoryEntry[]): void {
    this.history = history;
    this.notify();
  }

  select(id: string | null): void {
    if (this.selected === id) return;
    this.selected = id;
    this.notify();
  }

  undo(): void {
    const previous = this.undoStack.undo(this.canvas);
    if (previous) this.restore(previous);
  }

  redo(): void {
    const next = this.undoStack.redo(this.canvas);
    if (next) this.restore(next);
  }

  private restore(canvas: CanvasState): void {
    this.canvas = canvas;
    if (this.selected && !findLayer(canvas, this.selected)) this.selected = null;
    this.autosave.schedule();
    this.notify();
  }

  selectedLayer(): LayerState | null {
    return this.selected ? findLayer(this.canvas, this.selected) : null;
  }

  isBackground(id: string): boolean {
    return this.canvas.background?.id === id;
  }
}

export function findLayer(canvas: CanvasState, id: string): LayerState | null {
  if (canvas.background?.id === id) return canvas.background;
  return canvas.layers.find((layer) => layer.id === id) ?? null;
}

export function allLayerIds(canvas: CanvasState): Set<string> {
  const ids = new Set(canvas.layers.map((layer) => layer.id));
  if (canvas.background) ids.add(canvas.background.id);
  return ids;
}
