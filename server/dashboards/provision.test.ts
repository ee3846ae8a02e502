import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Provisioner, type DirWatcher } from './provision.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A watcher the test fires by hand: no waiting on the file system or on timers. */
function manualWatcher() {
  let fire: (() => void) | undefined;
  let stopped = false;
  const watch: DirWatcher = (_d, onChange) => {
    fire = onChange;
    return () => void (stopped = true);
  };
  return { watch, fire: () => fire!(), stopped: () => stopped };
}

const yaml = (title: string) => `title: ${title}\npanels:\n  - kind: text\n    options: {content: hi}\n    gridPos: {x: 0, y: 0, w: 24, h: 2}\n`;

describe('DASHBOARDS_DIR provisioning', () => {
  it('loads JSON and YAML files, reloads on change, and skips a bad file naming it and the field', async () => {
    dir = mkdtempSync(join(tmpdir(), 'metronome-prov-'));
    writeFileSync(join(dir, 'a.yaml'), yaml('First'));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ id: 'bee', title: 'Bee', panels: [] }));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const w = manualWatcher();
    const p = new Provisioner(dir, { watch: w.watch });
    await p.start();
    expect(p.list().map((d) => [d.id, d.title, d.source])).toEqual([['a', 'First', 'file'], ['bee', 'Bee', 'file']]);
    expect(p.errors).toEqual([]);

    writeFileSync(join(dir, 'a.yaml'), yaml('Changed'));
    writeFileSync(join(dir, 'c.yaml'), 'title: Bad\npanels:\n  - kind: stat\n    gridPos: {x: 0, y: 0, w: 30, h: 2}\n');
    unlinkSync(join(dir, 'b.json'));
    const before = p.loads;
    w.fire();
    await p.reload(); // queued behind the fired reload: both have finished after this
    expect(p.loads).toBeGreaterThanOrEqual(before + 2);
    expect(p.list().map((d) => [d.id, d.title])).toEqual([['a', 'Changed']]);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0].file).toBe(join(dir, 'c.yaml'));
    expect(p.errors[0].issues.map((i) => i.path).sort()).toEqual(['panels.0.gridPos.w', 'panels.0.queries']);
    p.close();
    expect(w.stopped()).toBe(true);
  });

  it('refuses two files with the same id and reports a missing directory', async () => {
    dir = mkdtempSync(join(tmpdir(), 'metronome-prov-'));
    writeFileSync(join(dir, 'one.json'), JSON.stringify({ id: 'same', title: 'One' }));
    writeFileSync(join(dir, 'two.json'), JSON.stringify({ id: 'same', title: 'Two' }));
    const p = new Provisioner(dir, { watch: manualWatcher().watch });
    await p.start();
    expect(p.list().map((d) => d.title)).toEqual(['One']);
    expect(p.errors[0].issues[0].message).toMatch(/already provisioned/);
    const missing = new Provisioner(join(dir, 'nope'), { watch: manualWatcher().watch });
    await missing.start();
    expect(missing.list()).toEqual([]);
    expect(missing.errors[0].issues[0].message).toMatch(/cannot read DASHBOARDS_DIR/);
  });
});
