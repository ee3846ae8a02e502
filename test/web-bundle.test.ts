import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../server/paths.js';
import { tempDir } from './helpers.js';
import { buildWeb } from './web-build.js';

/**
 * The JavaScript budget: what the browser must load before the first page shows (the entry
 * script and the chunks index.html preloads), and the whole app with every lazy page, each at
 * most 1.5 times what it measured (issue 17): 13,407 and 81,370 bytes gzip, 14 chunks. A budget
 * ten times the size would never fail. Raise them with a new measurement, in the same commit
 * as the growth, saying what it bought.
 * Built into a temporary folder so it never races the browser tests over web/dist.
 */

const INITIAL_BUDGET = 19.5 * 1024;
const ALL_BUDGET = 119 * 1024;
let out: string;
let html: string;
const report: Record<string, unknown> = { initialBudgetBytes: INITIAL_BUDGET, allBudgetBytes: ALL_BUDGET };

beforeAll(async () => {
  out = tempDir('metronome-web-build-');
  await buildWeb(out);
  html = readFileSync(join(out, 'index.html'), 'utf8');
}, 120_000);

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  // The measured sizes, for the record (test-output/ is kept by CI, not committed).
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  writeFileSync(join(ROOT, 'test-output', 'bundle-size.json'), JSON.stringify(report, null, 2));
});

const gz = (file: string) => gzipSync(readFileSync(join(out, file)), { level: 9 }).length;

describe('web bundle', () => {
  it('keeps the initial JavaScript under 19.5 KB gzip', () => {
    const initial = [...html.matchAll(/<script[^>]+type="module"[^>]+src="\/([^"]+)"|<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g)].map((m) => m[1] ?? m[2]);
    expect(initial.length).toBeGreaterThan(0);
    const sizes = Object.fromEntries(initial.map((f) => [f, gz(f)]));
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    Object.assign(report, { initialGzipBytes: total, initialChunks: sizes });
    expect(total).toBeLessThan(INITIAL_BUDGET);
  });

  it('loads the charts and the PromQL editor lazily, and keeps the whole app under 119 KB gzip', () => {
    const all = readdirSync(join(out, 'assets'));
    const editor = all.find((f) => f.startsWith('PromqlEditor') && f.endsWith('.js'));
    const chart = all.find((f) => f.startsWith('TimeSeriesChart') && f.endsWith('.js'));
    expect(editor).toBeDefined();
    expect(chart).toBeDefined();
    expect(html).not.toContain(editor!);
    expect(html).not.toContain(chart!);
    // Everything together is still small: the whole app, every page.
    const total = all.filter((f) => f.endsWith('.js')).reduce((a, f) => a + gz(join('assets', f)), 0);
    Object.assign(report, { allGzipBytes: total, chunks: all.filter((f) => f.endsWith('.js')).length });
    expect(total).toBeLessThan(ALL_BUDGET);
  });
});
