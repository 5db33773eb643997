// Prompt and generation settings: prompt, seed (+ re-roll), steps, guidance, true CFG, canvas CFG, lock hold,
// scheme.

import { byId } from "./dom";
import type { Editor } from "./editor";
import type { Scheme, Settings } from "./types";

const MAX_SEED = 2 ** 32 - 1;

export class SettingsPanel {
  private readonly prompt = byId<HTMLTextAreaElement>("prompt");
  private readonly seed = byId<HTMLInputElement>("seed");
  private readonly steps = byId<HTMLInputElement>("steps");
  private readonly guidance = byId<HTMLInputElement>("guidance");
  private readonly trueCfg = byId<HTMLInputElement>("true-cfg");
  private readonly canvasCfg = byId<HTMLInputElement>("canvas-cfg");
  private readonly lockBlend = byId<HTMLInputElement>("lock-blend");
  private readonly scheme = byId<HTMLSelectElement>("scheme");

  constructor(
    private readonly editor: Editor,
    schemes: Scheme[],
  ) {
    this.scheme.replaceChildren(...schemes.map((s) => new Option(s.replace(/_/g, " "), s)));
    this.prompt.addEventListener("change", () => editor.edit((c) => (c.prompt = this.prompt.value)));
    for (const input of [this.seed, this.steps, this.guidance, this.trueCfg, this.canvasCfg, this.lockBlend,
      this.scheme]) {
      input.addEventListener("change", () => this.commit());
    }
    byId("reroll").addEventListener("click", () => {
      this.seed.value = String(Math.floor(Math.random() * MAX_SEED));
      this.commit();
    });
    editor.onChange(() => this.render());
  }

  private commit(): void {
    const s = this.editor.settings;
    const num = (input: HTMLInputElement, fallback: number) =>
      Number.isFinite(Number(input.value)) && input.value !== "" ? Number(input.value) : fallback;
    this.editor.setSettings({
      seed: Math.min(MAX_SEED, Math.max(0, Math.round(num(this.seed, s.seed)))),
      steps: Math.min(200, Math.max(1, Math.round(num(this.steps, s.steps)))),
      guidance: Math.min(30, Math.max(0, num(this.guidance, s.guidance))),
      true_cfg: Math.min(30, Math.max(1, num(this.trueCfg, s.true_cfg))),
      canvas_cfg: Math.min(30, Math.max(1, num(this.canvasCfg, s.canvas_cfg))),
      lock_blend: Math.min(1, Math.max(0, num(this.lockBlend, s.lock_blend))),
      scheme: this.scheme.value as Scheme,
    });
  }

  /** Show `settings` (e.g. from a history entry) and keep them. */
  use(settings: Settings): void {
    this.editor.setSettings({ ...settings });
  }

  render(): void {
    const { canvas, settings } = this.editor;
    const put = (input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, value: string) => {
      if (document.activeElement !== input && input.value !== value) input.value = value;
    };
    put(this.prompt, canvas.prompt);
    put(this.seed, String(settings.seed));
    put(this.steps, String(settings.steps));
    put(this.guidance, String(settings.guidance));
    put(this.trueCfg, String(settings.true_cfg));
    put(this.canvasCfg, String(settings.canvas_cfg));
    put(this.lockBlend, String(settings.lock_blend));
    put(this.scheme, settings.scheme);
  }
}
