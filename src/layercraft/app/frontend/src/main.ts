// layercraft studio: wires the editor, canvas, panels and server together.

import "./style.css";
import { api, ApiError } from "./api";
import { byId } from "./dom";
import { Editor } from "./editor";
import { showError } from "./errors";
import { GeneratePanel } from "./generate";
import { installShortcuts } from "./keys";
import { LayersPanel } from "./panel";
import { SettingsPanel } from "./settings";
import { offerSizes, watchCanvasSize } from "./sizes";
import { StageView } from "./stage";
import { Toolbar } from "./toolbar";
import type { ProjectView, StudioInfo } from "./types";

const LAST_PROJECT = "layercraft-studio:last-project";

async function openInitial(size: { width: number; height: number }): Promise<ProjectView> {
  const wanted = new URLSearchParams(location.search).get("project") ?? localStorage.getItem(LAST_PROJECT);
  if (wanted) {
    try {
      return await api.get<ProjectView>(`/api/projects/${encodeURIComponent(wanted)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
  return api.post<ProjectView>("/api/projects", size);
}

async function start(): Promise<void> {
  const info = await api.get<StudioInfo>("/api/info");
  const editor = new Editor();
  const stage = new StageView(byId<HTMLDivElement>("stage"), editor);
  new LayersPanel(editor);
  const settings = new SettingsPanel(editor, info.schemes);
  const generate = new GeneratePanel(editor, settings, info.upscale);
  const firstSize = offerSizes(info.sizes ?? []);
  const open = (view: ProjectView) => {
    editor.open(view);
    localStorage.setItem(LAST_PROJECT, view.id);
    history.replaceState(null, "", `?project=${view.id}`);
    const last = view.history[view.history.length - 1];
    if (last) generate.show(last);
  };
  new Toolbar(editor, open, info.background_removal.available);
  byId("remove-bg-option").hidden = !info.background_removal.available;
  byId("model-name").textContent = info.model ? `model: ${info.model}` : "";
  installShortcuts(editor);
  window.addEventListener("beforeunload", () => void editor.autosave.flush().catch(() => {}));
  open(await openInitial(firstSize));
  watchCanvasSize(editor, info.sizes ?? []);
  // read-only handle for tests and tooling
  Object.assign(window, {
    studio: {
      state: () => structuredClone({ projectId: editor.projectId, canvas: editor.canvas, settings: editor.settings,
        selected: editor.selected, history: editor.history }),
      toPage: (x: number, y: number) => stage.toPage(x, y),
      flush: () => editor.autosave.flush(),
    },
  });
  document.body.dataset.ready = "true";
}

start().catch((err) => showError(err, "Starting the studio"));
