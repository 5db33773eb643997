// Generate -> live progress (SSE) -> result beside the canvas; history strip; result as locked background.

import { api } from "./api";
import { button, byId, el } from "./dom";
import type { Editor } from "./editor";
import { describe, showError } from "./errors";
import type { SettingsPanel } from "./settings";
import type { HistoryEntry, JobView, ProjectView, StudioInfo } from "./types";

interface JobEvent {
  type: "state" | "progress" | "done";
  state?: string;
  step?: number;
  total?: number;
  preview?: string;
  error?: string | null;
  loading_model?: boolean;
  position?: number;
}

const DONE_TEXT: Record<string, string> = {
  cancelled: "Cancelled",
  timed_out: "Stopped: time limit reached",
  failed: "Generation failed",
};

export class GeneratePanel {
  private readonly generateButton = byId<HTMLButtonElement>("generate");
  private readonly cancelButton = byId<HTMLButtonElement>("cancel");
  private readonly bar = byId<HTMLProgressElement>("progress");
  private readonly status = byId("job-status");
  private readonly result = byId<HTMLImageElement>("result");
  private readonly preview = byId<HTMLImageElement>("preview");
  private readonly strip = byId("history");
  private readonly resultActions = byId("result-actions");
  private current: JobView | null = null;
  private shown: HistoryEntry | null = null;
  private source: EventSource | null = null;

  constructor(
    private readonly editor: Editor,
    private readonly settings: SettingsPanel,
    private readonly upscaling: StudioInfo["upscale"] = { available: false, models: [], reason: null },
  ) {
    this.generateButton.addEventListener("click", () => void this.generate());
    this.cancelButton.addEventListener("click", () => void this.cancel());
    editor.onChange(() => this.renderHistory());
  }

  async generate(): Promise<void> {
    const e = this.editor;
    this.generateButton.disabled = true;
    try {
      await e.autosave.flush();
      const job = await api.post<JobView>(`/api/projects/${e.projectId}/jobs`, { settings: e.settings });
      this.track(job);
    } catch (err) {
      this.generateButton.disabled = false;
      this.setStatus(`Not started: ${describe(err)}`, "error");
      showError(err, "Generate");
    }
  }

  private track(job: JobView): void {
    this.current = job;
    this.cancelButton.disabled = false;
    this.bar.value = 0;
    this.bar.max = 1;
    this.preview.hidden = true;
    this.setStatus("Queued…", "");
    this.source?.close();
    const source = new EventSource(`/api/jobs/${job.id}/events`);
    this.source = source;
    const handle = (raw: MessageEvent) => this.onEvent(JSON.parse(raw.data) as JobEvent);
    for (const kind of ["state", "progress", "done"]) source.addEventListener(kind, handle as EventListener);
    source.onerror = () => {
      if (this.current?.id === job.id && source.readyState === EventSource.CLOSED) {
        this.finish();
        this.setStatus("Lost the progress stream; the job may still finish", "error");
      }
    };
  }

  private onEvent(event: JobEvent): void {
    if (event.type === "state") {
      if (event.state === "queued") this.setStatus(`Queued (position ${event.position ?? 1})…`, "");
      if (event.state === "running") this.setStatus(event.loading_model ? "Loading the model…" : "Generating…", "");
    } else if (event.type === "progress") {
      this.bar.max = event.total ?? 1;
      this.bar.value = event.step ?? 0;
      this.setStatus(`Step ${event.step} / ${event.total}`, "");
      if (event.preview) {
        this.preview.src = event.preview;
        this.preview.hidden = false;
      }
    } else if (event.type === "done") {
      void this.done(event);
    }
  }

  private async done(event: JobEvent): Promise<void> {
    const job = this.current;
    this.finish();
    this.preview.hidden = true;
    if (event.state !== "succeeded" || !job) {
      const text = `${DONE_TEXT[event.state ?? "failed"] ?? "Stopped"}${event.error ? `: ${event.error}` : ""}`;
      this.setStatus(text, "error");
      if (event.state !== "cancelled") showError(text);
      return;
    }
    this.bar.value = this.bar.max;
    this.setStatus("Done", "ok");
    try {
      const view = await api.get<ProjectView>(`/api/projects/${this.editor.projectId}`);
      this.editor.setHistory(view.history);
      const entry = view.history.find((h) => h.job_id === job.id);
      if (entry) this.show(entry);
    } catch (err) {
      showError(err, "Loading the result");
    }
  }

  private finish(): void {
    this.source?.close();
    this.source = null;
    this.current = null;
    this.generateButton.disabled = false;
    this.cancelButton.disabled = true;
  }

  async cancel(): Promise<void> {
    if (!this.current) return;
    try {
      await api.post(`/api/jobs/${this.current.id}/cancel`);
      this.setStatus("Cancelling…", "");
    } catch (err) {
      showError(err, "Cancel");
    }
  }

  private setStatus(text: string, kind: "" | "ok" | "error"): void {
    this.status.textContent = text;
    this.status.className = kind;
  }

  show(entry: HistoryEntry): void {
    this.shown = entry;
    this.result.src = entry.result_url;
    this.result.hidden = false;
    const s = entry.settings;
    this.result.title = `seed ${s.seed} · ${s.steps} steps · guidance ${s.guidance} · ${s.scheme}\n${entry.prompt}`;
    this.resultActions.replaceChildren(
      el("a", { href: entry.result_url, download: `${entry.job_id}.png`, id: "export-result", class: "button" },
        "Export result PNG"),
      button("Use as locked background", "Put this result behind all layers, locked", () => void this.useAsBackground(),
        { id: "use-background" }),
      button("Reuse settings", "Put this result's settings back", () => this.settings.use(s)),
    );
    if (this.upscaling.available && !entry.job_id.includes("-x4-")) {
      const model = this.upscaling.models.includes("anime") ? "anime" : this.upscaling.models[0];
      this.resultActions.append(
        button("Upscale ×4", `A 4× larger copy of this result (Real-ESRGAN ${model}), added to the history`,
          () => void this.upscale(entry, model), { id: "upscale-result" }),
      );
    }
    this.renderHistory();
  }

  private async upscale(entry: HistoryEntry, model: string): Promise<void> {
    const action = byId<HTMLButtonElement>("upscale-result");
    action.disabled = true;
    this.setStatus("Upscaling ×4…", "");
    try {
      const made = await api.post<HistoryEntry>(`/api/projects/${this.editor.projectId}/upscale`,
        { job_id: entry.job_id, model });
      const view = await api.get<ProjectView>(`/api/projects/${this.editor.projectId}`);
      this.editor.setHistory(view.history);
      this.setStatus(`Upscaled to ${made.width}×${made.height}`, "ok");
      this.show(view.history.find((h) => h.job_id === made.job_id) ?? made);
    } catch (err) {
      action.disabled = false;
      this.setStatus(`Not upscaled: ${describe(err)}`, "error");
      showError(err, "Upscale");
    }
  }

  private async useAsBackground(): Promise<void> {
    const entry = this.shown;
    if (!entry) return;
    try {
      await this.editor.autosave.flush();
      const view = await api.post<ProjectView>(`/api/projects/${this.editor.projectId}/background-from-result`,
        { job_id: entry.job_id });
      this.editor.adoptServerCanvas(view, view.canvas.background?.id ?? null);
    } catch (err) {
      showError(err, "Use as background");
    }
  }

  private renderHistory(): void {
    const items = [...this.editor.history].reverse().map((entry) => {
      const s = entry.settings;
      const img = el("img", {
        src: entry.result_url,
        alt: `result ${entry.job_id}`,
        title: `seed ${s.seed} · ${s.steps} steps · guidance ${s.guidance} · ${s.scheme}\n${entry.prompt}`,
        class: entry.job_id === this.shown?.job_id ? "current" : "",
        "data-job": entry.job_id,
      });
      img.addEventListener("click", () => this.show(entry));
      return img;
    });
    this.strip.replaceChildren(...items);
  }
}
