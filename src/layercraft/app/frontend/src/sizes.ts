// Canvas sizes: the model's trained sizes first in the new-project menu, the others marked untrained; a note beside
// the menu when the open project's canvas is at a size the model was not trained at.

import { byId } from "./dom";
import type { Editor } from "./editor";
import type { OfferedSize } from "./types";

export function sizeLabel(s: OfferedSize, mixed: boolean): string {
  const base = `${s.width}×${s.height}`;
  if (!mixed) return base;
  return s.trained ? `${base} (trained)` : `${base} (untrained)`;
}

/** Fill the new-project size menu from /api/info; returns the size a first project should get. */
export function offerSizes(sizes: OfferedSize[]): { width: number; height: number } {
  const select = byId<HTMLSelectElement>("new-size");
  if (sizes.length === 0) {
    const [width, height] = select.value.split("x").map(Number);
    return { width, height };
  }
  const mixed = sizes.some((s) => s.trained) && sizes.some((s) => !s.trained);
  select.replaceChildren(
    ...sizes.map((s) => {
      const option = new Option(sizeLabel(s, mixed), `${s.width}x${s.height}`);
      option.dataset.trained = String(s.trained);
      if (mixed && !s.trained) option.title = "The model was not trained at this size: expect weaker results";
      return option;
    }),
  );
  return { width: sizes[0].width, height: sizes[0].height };
}

/** Keep #size-note saying whether the open canvas is at a trained size. */
export function watchCanvasSize(editor: Editor, sizes: OfferedSize[]): void {
  const note = byId("size-note");
  const trained = sizes.filter((s) => s.trained);
  const render = () => {
    const { width, height } = editor.canvas;
    const ok = trained.length === sizes.length || trained.some((s) => s.width === width && s.height === height);
    note.hidden = ok;
    note.textContent = ok ? "" : `${width}×${height}: untrained size`;
    note.title = ok ? "" : `The model was trained at ${trained.map((s) => `${s.width}×${s.height}`).join(", ")}`;
  };
  editor.onChange(render);
  render();
}
