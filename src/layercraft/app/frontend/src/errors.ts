// Error messages shown to the user: every server error surfaces here with the server's wording.

import { ApiError } from "./api";

const MAX_SHOWN = 4;

export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function showError(err: unknown, context = ""): void {
  const box = document.getElementById("errors");
  if (!box) return;
  const item = document.createElement("div");
  item.className = "error";
  item.setAttribute("role", "alert");
  const text = document.createElement("span");
  text.textContent = context ? `${context}: ${describe(err)}` : describe(err);
  const close = document.createElement("button");
  close.textContent = "×";
  close.title = "Dismiss";
  close.addEventListener("click", () => item.remove());
  item.append(text, close);
  box.prepend(item);
  while (box.children.length > MAX_SHOWN) box.lastElementChild?.remove();
}
