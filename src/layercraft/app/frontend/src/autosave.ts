// Debounced autosave of the whole project document (canvas state + settings) to the server.

import { api } from "./api";
import { describe } from "./errors";
import type { CanvasState, ProjectView, Settings } from "./types";

export type SaveStatus = { kind: "saved" | "saving" | "error"; message: string };

export class Autosave {
  private timer: number | undefined;
  private running: Promise<void> | null = null;
  private dirty = false;
  onStatus: (status: SaveStatus) => void = () => {};

  constructor(
    private readonly snapshot: () => { projectId: string; canvas: CanvasState; settings: Settings },
    private readonly delayMs = 400,
  ) {}

  schedule(): void {
    this.dirty = true;
    this.onStatus({ kind: "saving", message: "Unsaved changes…" });
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.flush().catch(() => {}), this.delayMs);
  }

  /** Save now if anything changed; resolves once the server has the latest state, rejects on failure. */
  async flush(): Promise<void> {
    window.clearTimeout(this.timer);
    while (this.running) await this.running.catch(() => {});
    if (!this.dirty) return;
    this.dirty = false;
    const { projectId, canvas, settings } = this.snapshot();
    this.onStatus({ kind: "saving", message: "Saving…" });
    this.running = api
      .put<ProjectView>(`/api/projects/${projectId}`, { canvas, settings })
      .then(() => this.onStatus({ kind: "saved", message: "All changes saved" }))
      .catch((err) => {
        this.dirty = true; // keep the local state; the next change or flush retries
        this.onStatus({ kind: "error", message: `Not saved: ${describe(err)}` });
        throw err;
      })
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }
}
