import { defineConfig } from "vite";

// The build lands in ../static, which the Python server mounts at "/".
export default defineConfig({
  base: "/",
  build: { outDir: "../static", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": "http://127.0.0.1:8765" } },
});
