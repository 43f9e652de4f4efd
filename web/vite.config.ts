/// <reference types="vitest/config" />
// The browser view is built into the Python package (velocitas_desktop/webview/dist), which
// the embedded server serves at /. `npm run dev` serves it from Vite with the API proxied to a
// `velocitas serve` on 127.0.0.1:8000 (start that one with --cors-origin http://localhost:5173
// only if you open the dev server by another name).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../velocitas_desktop/webview/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/ws": { target: "ws://127.0.0.1:8000", ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
