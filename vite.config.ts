import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Builds the dashboard's web UI (src/dashboard/ui) into dist/dashboard-ui, served by `orchestrator dashboard`. */
export default defineConfig({
  root: fileURLToPath(new URL('./src/dashboard/ui', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/dashboard-ui', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
});
