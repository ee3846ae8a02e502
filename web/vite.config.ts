import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Preact through esbuild's automatic JSX runtime: no framework preset needed.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite web` during development: the API comes from a running Metronome.
    proxy: { '/api': 'http://127.0.0.1:8080', '/write': 'http://127.0.0.1:8080', '/metrics': 'http://127.0.0.1:8080' },
  },
});
