// Keyboard shortcuts: Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo, Delete removes the selected layer.

import type { Editor } from "./editor";
import { remove } from "./ops";

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement;
}

export function installShortcuts(editor: Editor): void {
  window.addEventListener("keydown", (event) => {
    if (typing(event.target)) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && key === "z") {
      event.preventDefault();
      if (event.shiftKey) editor.redo();
      else editor.undo();
    } else if (mod && key === "y") {
      event.preventDefault();
      editor.redo();
    } else if ((key === "delete" || key === "backspace") && editor.selected) {
      event.preventDefault();
      const id = editor.selected;
      editor.edit((c) => remove(c, id));
    }
  });
}
