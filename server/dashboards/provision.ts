import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Issue } from '../errors.js';
import { issuesOf } from '../services/model.js';
import { importGrafana, isGrafanaDashboard } from './grafana-import.js';
import { DASHBOARD_ID, dashboardDocSchema, type StoredDashboard } from './model.js';

/**
 * Dashboards provisioned from DASHBOARDS_DIR: every *.json, *.yaml or *.yml file holds one
 * dashboard (our model, or Grafana JSON, converted on load). They are read-only through the API
 * (change the file) and reloaded when the directory changes. A bad file is reported and skipped;
 * the others still load.
 */

/** Calls onChange when something in dir may have changed; returns a function that stops. */
export type DirWatcher = (dir: string, onChange: () => void) => () => void;

/** fs.watch, with changes within 100 ms coalesced into one reload. */
const fsDirWatcher: DirWatcher = (dir, onChange) => {
  let timer: NodeJS.Timeout | undefined;
  let w: FSWatcher | undefined;
  try {
    w = fsWatch(dir, () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, 100);
      timer.unref();
    });
    w.on('error', () => {});
  } catch {
    // A missing directory is reported by load(); nothing to watch.
  }
  return () => {
    clearTimeout(timer);
    w?.close();
  };
};

export interface ProvisionError {
  file: string;
  issues: Issue[];
}

export class Provisioner {
  private byId = new Map<string, StoredDashboard>();
  errors: ProvisionError[] = [];
  private stop?: () => void;
  private loading: Promise<void> = Promise.resolve();
  /** How many loads have finished: tests wait on a reload without sleeping. */
  loads = 0;

  constructor(
    readonly dir: string,
    private readonly opts: { watch?: DirWatcher; onError?: (e: ProvisionError) => void } = {},
  ) {}

  /** Load now and reload on change. */
  async start(): Promise<void> {
    await this.reload();
    this.stop = (this.opts.watch ?? fsDirWatcher)(this.dir, () => void this.reload());
  }

  close(): void {
    this.stop?.();
  }

  list(): StoredDashboard[] {
    return [...this.byId.values()];
  }

  get(id: string): StoredDashboard | undefined {
    return this.byId.get(id);
  }

  /** Read the directory again (serialised: a reload never interleaves with another). */
  reload(): Promise<void> {
    this.loading = this.loading.then(() => this.load()).finally(() => void this.loads++);
    return this.loading;
  }

  private async load(): Promise<void> {
    const next = new Map<string, StoredDashboard>();
    const errors: ProvisionError[] = [];
    let files: string[];
    try {
      files = (await readdir(this.dir)).filter((f) => /\.(json|ya?ml)$/i.test(f)).sort();
    } catch (e) {
      files = [];
      errors.push({ file: this.dir, issues: [{ path: '(dir)', message: `cannot read DASHBOARDS_DIR: ${(e as Error).message}` }] });
    }
    for (const f of files) {
      const file = join(this.dir, f);
      try {
        const text = await readFile(file, 'utf8');
        const raw: unknown = /\.json$/i.test(f) ? JSON.parse(text) : parseYaml(text);
        const doc = isGrafanaDashboard(raw) ? importGrafana(raw).dashboard : raw;
        const parsed = dashboardDocSchema.safeParse(doc);
        if (!parsed.success) {
          errors.push({ file, issues: issuesOf(parsed.error) });
          continue;
        }
        const fallback = basename(f, extname(f)).replace(/[^a-zA-Z0-9_.:-]/g, '-');
        const id = parsed.data.id ?? fallback;
        if (!DASHBOARD_ID.test(id)) {
          errors.push({ file, issues: [{ path: 'id', message: `file name ${f} does not make a valid id; set id` }] });
          continue;
        }
        if (next.has(id)) {
          errors.push({ file, issues: [{ path: 'id', message: `id ${id} is already provisioned by ${next.get(id)!.file}` }] });
          continue;
        }
        next.set(id, { ...parsed.data, id, source: 'file', file });
      } catch (e) {
        errors.push({ file, issues: [{ path: '(file)', message: (e as Error).message }] });
      }
    }
    this.byId = next;
    this.errors = errors;
    for (const e of errors) this.opts.onError?.(e);
  }
}
