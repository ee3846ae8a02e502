import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import { ROOT } from '../server/paths.js';

/** Helpers for tests that need the built web UI. */

const WEB_ROOT = join(ROOT, 'web');
const WEB_CONFIG = join(WEB_ROOT, 'vite.config.ts');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Build web/ into `outDir` (default web/dist). */
export async function buildWeb(outDir?: string): Promise<void> {
  await build({ configFile: WEB_CONFIG, root: WEB_ROOT, logLevel: 'error', build: outDir ? { outDir, emptyOutDir: true } : {} });
}

/** Build web/dist when it is missing or older than the sources, so browser tests see the current UI. */
export async function ensureWebBuilt(): Promise<void> {
  const index = join(WEB_ROOT, 'dist', 'index.html');
  const sources = Math.max(newestMtime(join(WEB_ROOT, 'src')), statSync(join(WEB_ROOT, 'index.html')).mtimeMs, statSync(WEB_CONFIG).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  await buildWeb();
}
