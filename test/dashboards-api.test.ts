import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heroic, postJson, startTestServer, tempDir, type TestServer } from './helpers.js';

// One real server (embedded ClickHouse) with a DASHBOARDS_DIR holding a YAML, a Grafana JSON and
// a broken file.
let srv: TestServer;
const dir = tempDir('metronome-dashboards-');
const NOW = Date.now();

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ops.yaml'),
    ['title: Ops overview', 'folder: Ops', 'tags: [ops]', 'panels:', '  - kind: stat', '    title: Up', '    queries: [{expr: "sum(up)"}]', '    gridPos: {x: 0, y: 0, w: 6, h: 4}'].join('\n'),
  );
  writeFileSync(join(dir, 'apiserver.json'), readFileSync(new URL('./data/grafana/kubernetes-mixin-apiserver.json', import.meta.url)));
  writeFileSync(join(dir, 'broken.yaml'), 'title: [unclosed');
  srv = await startTestServer({ DASHBOARDS_DIR: dir });
}, 120_000);
afterAll(async () => {
  await srv?.destroy();
});

async function send(method: string, path: string, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const panel = (over: Record<string, unknown> = {}) => ({ kind: 'timeseries', title: 'Requests', queries: [{ expr: 'sum(rate(http_requests_total{instance=~"$instance"}[$interval]))' }], gridPos: { x: 0, y: 0, w: 12, h: 8 }, ...over });

describe('the dashboard library', () => {
  it('creates, reads, updates and deletes a dashboard with variables and panels', async () => {
    const doc = {
      id: 'web-overview',
      title: 'Web overview',
      folder: 'Web',
      tags: ['web', 'http'],
      variables: [
        { type: 'query', name: 'instance', query: 'label_values(up, instance)', multi: true, includeAll: true },
        { type: 'interval', name: 'interval', options: ['1m', '5m'] },
        { type: 'custom', name: 'code', options: ['2xx', '5xx'] },
        { type: 'text', name: 'filter', current: ['x'] },
      ],
      panels: [panel(), panel({ kind: 'gauge', title: 'CPU', options: { unit: 'percent', max: 100 }, gridPos: { x: 12, y: 0, w: 6, h: 8 } })],
    };
    const created = await send('POST', '/api/v1/dashboards', doc);
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ id: 'web-overview', source: 'library' });

    const again = await send('POST', '/api/v1/dashboards', doc);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('MTR_DASHBOARD_EXISTS');

    const got = await send('GET', '/api/v1/dashboards/web-overview');
    expect(got.status).toBe(200);
    expect(got.body.data.panels.map((p: any) => p.kind)).toEqual(['timeseries', 'gauge']);
    expect(got.body.data.variables.map((v: any) => `${v.type}:${v.name}`)).toEqual(['query:instance', 'interval:interval', 'custom:code', 'text:filter']);

    const put = await send('PUT', '/api/v1/dashboards/web-overview', { ...doc, title: 'Web overview v2' });
    expect(put.status).toBe(200);
    expect((await send('GET', '/api/v1/dashboards/web-overview')).body.data.title).toBe('Web overview v2');

    const del = await send('DELETE', '/api/v1/dashboards/web-overview');
    expect(del.status).toBe(204);
    expect((await send('GET', '/api/v1/dashboards/web-overview')).status).toBe(404);
    expect((await send('DELETE', '/api/v1/dashboards/web-overview')).body.error.code).toBe('MTR_DASHBOARD_NOT_FOUND');
  });

  it('rejects an invalid dashboard naming every bad field', async () => {
    const r = await send('POST', '/api/v1/dashboards', {
      title: '',
      variables: [{ type: 'query', name: '1bad', query: 'up' }],
      panels: [panel({ kind: 'piechart' }), panel({ gridPos: { x: 20, y: 0, w: 8, h: 4 } }), panel({ kind: 'stat', options: { reduce: 'median' } })],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_DASHBOARD_INVALID');
    const paths = r.body.error.issues.map((i: any) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['title', 'variables.0.name', 'variables.0.query', 'panels.0.kind', 'panels.1.gridPos.w', 'panels.2.options.reduce']));
  });

  it('lists by folder, tag and search, with folders and tags counted', async () => {
    await send('POST', '/api/v1/dashboards', { id: 'db-a', title: 'Postgres primary', folder: 'Databases', tags: ['db', 'postgres'], panels: [panel()] });
    await send('POST', '/api/v1/dashboards', { id: 'db-b', title: 'Redis cache', folder: 'Databases', tags: ['db', 'redis'], panels: [panel()] });
    const ids = async (qs: string) => (await send('GET', `/api/v1/dashboards${qs}`)).body.data.map((d: any) => d.id).sort();
    expect(await ids('?folder=Databases')).toEqual(['db-a', 'db-b']);
    expect(await ids('?tag=db&tag=redis')).toEqual(['db-b']);
    expect(await ids('?search=postgres%20PRIMARY')).toEqual(['db-a']);
    const folders = (await send('GET', '/api/v1/dashboards/folders')).body.data;
    expect(folders).toEqual(expect.arrayContaining([{ name: 'Databases', dashboards: 2 }, { name: 'Ops', dashboards: 1 }]));
    const tags = (await send('GET', '/api/v1/dashboards/tags')).body.data;
    expect(tags).toEqual(expect.arrayContaining([{ name: 'db', dashboards: 2 }]));
  });

  it('serves dashboards provisioned from DASHBOARDS_DIR read-only and reports the broken file', async () => {
    const list = await send('GET', '/api/v1/dashboards');
    const byId = Object.fromEntries(list.body.data.map((d: any) => [d.id, d]));
    expect(byId.ops).toMatchObject({ title: 'Ops overview', folder: 'Ops', source: 'file' });
    // The Grafana JSON in the directory is converted on load and keeps its uid.
    const apiserver = list.body.data.find((d: any) => d.title === 'Kubernetes / API server');
    expect(apiserver?.source).toBe('file');
    expect(list.body.provisioningErrors.map((e: any) => e.file)).toEqual([join(dir, 'broken.yaml')]);
    const put = await send('PUT', '/api/v1/dashboards/ops', { title: 'x', panels: [] });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe('MTR_DASHBOARD_READ_ONLY');
  });
});

describe('service dashboards in the library', () => {
  it('serves a service dashboard as generated, saves an edited copy, and drops back on delete', async () => {
    const t = NOW - 60_000;
    const w = await postJson(`${srv.url}/write`, [
      heroic('http_requests_total', { service: 'shop', route: '/cart', code: '200', instance: 'a' }, [[t - 30_000, 1], [t, 5]]),
    ]);
    expect(w.status).toBeLessThan(300);
    const gen = await send('GET', '/api/v1/dashboards/service:shop');
    expect(gen.status).toBe(200);
    expect(gen.body.data.source).toBe('generated');
    expect(gen.body.data.folder).toBe('Services');
    expect(gen.body.data.panels.some((p: any) => p.kind === 'row')).toBe(true);
    const edited = { ...gen.body.data, title: 'Shop (edited)' };
    delete edited.source;
    const put = await send('PUT', '/api/v1/dashboards/service:shop', edited);
    expect(put.status).toBe(201);
    expect((await send('GET', '/api/v1/dashboards/service:shop')).body.data).toMatchObject({ title: 'Shop (edited)', source: 'library' });
    expect((await send('DELETE', '/api/v1/dashboards/service:shop')).status).toBe(204);
    expect((await send('GET', '/api/v1/dashboards/service:shop')).body.data.source).toBe('generated');
  });
});

describe('Grafana import and export', () => {
  it('imports node-exporter-full with a report and exports it back as Grafana JSON', async () => {
    const g = JSON.parse(readFileSync(new URL('./data/grafana/node-exporter-full.json', import.meta.url), 'utf8'));
    const r = await send('POST', '/api/v1/dashboards/import?folder=Hosts', g);
    expect(r.status).toBe(201);
    expect(r.body.id).toBe(g.uid);
    expect(r.body.report.length).toBeGreaterThan(0);
    const got = (await send('GET', `/api/v1/dashboards/${r.body.id}`)).body.data;
    expect(got.folder).toBe('Hosts');
    const kinds = new Set(got.panels.map((p: any) => p.kind));
    for (const k of ['row', 'timeseries', 'stat', 'gauge', 'bargauge']) expect(kinds).toContain(k);
    expect(got.variables.map((v: any) => v.name)).toEqual(['job', 'nodename', 'node']);

    const ex = await send('GET', `/api/v1/dashboards/${r.body.id}/export?format=grafana`);
    expect(ex.status).toBe(200);
    expect(ex.body.uid).toBe(g.uid);
    const exprs = (d: any) => d.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]).flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr)).sort();
    expect(exprs(ex.body)).toEqual(exprs(g).filter((e: string) => e));

    const dup = await send('POST', '/api/v1/dashboards/import', g);
    expect(dup.body.error.code).toBe('MTR_DASHBOARD_EXISTS');
    expect((await send('POST', '/api/v1/dashboards/import?overwrite=1', g)).status).toBe(201);
  });

  it('refuses a body that is not a Grafana dashboard', async () => {
    const r = await send('POST', '/api/v1/dashboards/import', { hello: 'world' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_DASHBOARD_IMPORT');
  });
});

describe('annotations', () => {
  it('stores posted annotations and derives alert changes and deploys for a service', async () => {
    const h = 3_600_000;
    const w = await postJson(`${srv.url}/write`, [
      heroic('app_info', { service: 'billing', version: '1.0.0' }, [[NOW - 2 * h, 1]]),
      heroic('app_info', { service: 'billing', version: '1.1.0' }, [[NOW - h, 1]]),
    ]);
    expect(w.status).toBeLessThan(300);
    await srv.ctx.store.insertRows('alert_history', [
      { ts: new Date(NOW - 30 * 60_000).toISOString().slice(0, 23).replace('T', ' '), rule_id: 'r1', rule_name: 'BillingErrors', group_key: '', fingerprint: 'f1', labels: { service: 'billing' }, annotations: {}, from_state: 'pending', to_state: 'firing', value: 1 },
    ]);
    const posted = await send('POST', '/api/v1/annotations', { time: NOW - 10 * 60_000, text: 'CI deploy 1.1.1', tags: ['ci'], service: 'billing' });
    expect(posted.status).toBe(201);

    const bad = await send('POST', '/api/v1/annotations', { text: '', time: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('MTR_ANNOTATION_INVALID');
    expect(bad.body.error.issues.map((i: any) => i.path).sort()).toEqual(['text', 'time']);

    const r = await send('GET', `/api/v1/annotations?service=billing&start=${(NOW - 3 * h) / 1000}&end=${(NOW + 60_000) / 1000}`);
    expect(r.status).toBe(200);
    const byKind = (k: string) => r.body.data.filter((a: any) => a.kind === k);
    expect(byKind('deploy')).toEqual([expect.objectContaining({ time: NOW - h, text: 'billing 1.0.0 → 1.1.0' })]);
    expect(byKind('alert')).toEqual([expect.objectContaining({ state: 'firing', text: 'BillingErrors: pending → firing' })]);
    expect(byKind('manual')).toEqual([expect.objectContaining({ text: 'CI deploy 1.1.1', tags: ['ci'] })]);
    // Another service sees neither the deploy nor the alert.
    const other = await send('GET', `/api/v1/annotations?service=shop&start=${(NOW - 3 * h) / 1000}&end=${(NOW + 60_000) / 1000}`);
    expect(other.body.data.filter((a: any) => a.kind !== 'manual' || a.service)).toEqual([]);
  });

  it('word a bad start or end as /api/v1/query does, and refuse one outside 1970-2286', async () => {
    const bad = await send('GET', '/api/v1/annotations?start=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'MTR_READ_BAD_PARAM', message: 'invalid parameter "start": cannot parse "yesterday" to a valid timestamp (unix seconds or RFC 3339)' });
    const early = await send('GET', '/api/v1/annotations?end=-1');
    expect(early.body.error.message).toBe('invalid parameter "end": must be a time from 1970 to 2286');
    // Empty means not given, as in Prometheus: the last 6 hours.
    expect((await send('GET', '/api/v1/annotations?start=&end=')).status).toBe(200);
  });
});
