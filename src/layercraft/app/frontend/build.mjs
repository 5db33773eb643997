// Bundle the studio front end into ../static: assets/app.js + assets/app.css, and index.html beside them.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const out = new URL("../static/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(new URL("assets/", out), { recursive: true });
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  outdir: new URL("assets/", out).pathname,
  logLevel: "warning",
});
await copyFile(new URL("index.html", import.meta.url), new URL("index.html", out));
console.log(`built ${out.pathname}`);
