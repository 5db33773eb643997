// Project actions: new, add layer / background from a file, undo/redo, save/load project files, export collage.

import { api } from "./api";
import { byId } from "./dom";
import type { Editor } from "./editor";
import { showError } from "./errors";
import type { ProjectView } from "./types";

interface Uploaded {
  layer_id: string;
  project: ProjectView;
}

interface UploadedMany {
  layer_ids: string[];
  project: ProjectView;
}

export class Toolbar {
  private layoutPhoto: File | null = null;

  constructor(
    private readonly editor: Editor,
    private readonly openProject: (view: ProjectView) => void,
    private readonly removeBackground: boolean,
  ) {
    const e = editor;
    this.onFile("add-layer", (file) => this.addLayer(file, false));
    this.onFile("add-background", (file) => this.addLayer(file, true));
    this.onFile("load-project", (file) => this.load(file));
    this.onFile("people-from-photo", (file) => this.peopleFromPhoto(file));
    this.onFile("layout-photo", async (file) => {
      this.layoutPhoto = file;
      byId("layout-name").textContent = `layout: ${file.name}`;
    });
    const photos = byId<HTMLInputElement>("photos-on-layout");
    photos.addEventListener("change", () => {
      const files = [...(photos.files ?? [])];
      photos.value = "";
      if (files.length) void this.photosOnLayout(files);
    });
    byId("undo").addEventListener("click", () => e.undo());
    byId("redo").addEventListener("click", () => e.redo());
    byId("new-project").addEventListener("click", () => void this.create());
    byId("save-project").addEventListener("click", () => void this.download(`/api/projects/${e.projectId}/export`));
    byId("export-collage").addEventListener("click",
      () => void this.download(`/api/projects/${e.projectId}/collage.png`));
    const status = byId("save-status");
    e.autosave.onStatus = (s) => {
      status.textContent = s.message;
      status.className = s.kind;
    };
    e.onChange(() => {
      byId<HTMLButtonElement>("undo").disabled = !e.undoStack.canUndo;
      byId<HTMLButtonElement>("redo").disabled = !e.undoStack.canRedo;
      byId("project-name").textContent = `${e.projectName} · ${e.canvas.width}×${e.canvas.height}`;
    });
  }

  private onFile(id: string, handle: (file: File) => Promise<void>): void {
    const input = byId<HTMLInputElement>(id);
    input.addEventListener("change", async () => {
      const files = [...(input.files ?? [])];
      input.value = "";
      for (const file of files) await handle(file);
    });
  }

  private async addLayer(file: File, background: boolean): Promise<void> {
    const e = this.editor;
    try {
      await e.autosave.flush();
      const fields: Record<string, string> = { name: file.name.replace(/\.[^.]+$/, ""), background: String(background) };
      if (this.removeBackground && byId<HTMLInputElement>("remove-bg").checked) fields.remove_background = "true";
      const out = await api.upload<Uploaded>(`/api/projects/${e.projectId}/layers`, file, fields);
      e.adoptServerCanvas(out.project, out.layer_id);
    } catch (err) {
      showError(err, `Adding ${file.name}`);
    }
  }

  /** Real photos: one layer per person in the photo (the bundled person segmentation, split by faces). */
  private async peopleFromPhoto(file: File): Promise<void> {
    const e = this.editor;
    try {
      await e.autosave.flush();
      const out = await api.upload<UploadedMany>(`/api/projects/${e.projectId}/people`, file,
        { name: file.name.replace(/\.[^.]+$/, "") });
      e.adoptServerCanvas(out.project, out.layer_ids[0]);
    } catch (err) {
      showError(err, `People from ${file.name}`);
    }
  }

  /** The automatic layout canvas: each photo's person placed so its face lands on a layout-photo face. */
  private async photosOnLayout(files: File[]): Promise<void> {
    const e = this.editor;
    try {
      await e.autosave.flush();
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      if (this.layoutPhoto) form.append("prior", this.layoutPhoto, this.layoutPhoto.name);
      // the project's scheme; the server builds a location canvas for schemes that take one, else cut-out people
      const scheme = byId<HTMLSelectElement>("scheme").value;
      form.append("scheme", scheme);
      const out = await api.uploadForm<UploadedMany>(`/api/projects/${e.projectId}/from-photos`, form);
      e.adoptServerCanvas(out.project, out.layer_ids[0]);
    } catch (err) {
      showError(err, "Photos on layout");
    }
  }

  private async load(file: File): Promise<void> {
    try {
      await this.editor.autosave.flush().catch(() => {});
      this.openProject(await api.upload<ProjectView>("/api/projects/import", file));
    } catch (err) {
      showError(err, `Opening ${file.name}`);
    }
  }

  private async create(): Promise<void> {
    const [width, height] = byId<HTMLSelectElement>("new-size").value.split("x").map(Number);
    try {
      await this.editor.autosave.flush().catch(() => {});
      this.openProject(await api.post<ProjectView>("/api/projects", { width, height }));
    } catch (err) {
      showError(err, "New project");
    }
  }

  /** Download a server file after saving pending edits, so it reflects what is on screen. */
  private async download(url: string): Promise<void> {
    try {
      await this.editor.autosave.flush();
      const response = await fetch(url);
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
      }
      const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? "download";
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (err) {
      showError(err, "Download");
    }
  }
}
