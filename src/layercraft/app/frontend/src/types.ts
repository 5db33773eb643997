// The JSON shapes of the studio API (see src/layercraft/app/schemas.py).

export type Category = "person" | "face" | "upper_garment" | "lower_garment" | "bag" | "object" | "background";
export const CATEGORIES: Category[] = ["person", "face", "upper_garment", "lower_garment", "bag", "object"];
// Scheme names come from the server (`/api/info`), which reads them from the scheme registry.
export type Scheme = string;

export interface Placement {
  x: number;
  y: number;
  scale: number;
  rotation: number;
  flip_h: boolean;
  flip_v: boolean;
}

export interface LayerState {
  id: string;
  image_id: string;
  name: string;
  placement: Placement;
  placed: boolean;
  locked: boolean;
  visible: boolean;
  category: Category;
  descriptor: string | null;
  image_size: [number, number] | null;
}

export interface CanvasState {
  width: number;
  height: number;
  prompt: string;
  layers: LayerState[];
  background: LayerState | null;
}

export interface Settings {
  seed: number;
  steps: number;
  guidance: number;
  true_cfg: number;
  canvas_cfg: number;
  lock_blend: number;
  scheme: Scheme;
}

export interface HistoryEntry {
  job_id: string;
  prompt: string;
  settings: Settings;
  width: number;
  height: number;
  created: number;
  result_url: string;
}

export interface ProjectView {
  id: string;
  name: string;
  revision: number;
  canvas: CanvasState;
  settings: Settings;
  history: HistoryEntry[];
}

export interface JobView {
  id: string;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
  step: number;
  total: number;
  error: string | null;
  result_url: string | null;
  queue_position: number | null;
}

export interface OfferedSize {
  width: number;
  height: number;
  trained: boolean; // a size the model's card says it was trained at (all true when the card lists none)
}

export interface StudioInfo {
  model: string;
  schemes: Scheme[];
  stride: number;
  sizes: OfferedSize[];
  upscale: { available: boolean; models: string[]; reason: string | null };
  background_removal: { available: boolean; reason: string | null };
}
