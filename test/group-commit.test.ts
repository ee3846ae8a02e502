import { request, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSeries, heroic, postJson, startTestServer, type TestServer } from './helpers.js';

/**
 * The write path's group commit through HTTP: a flush waits for requests still on their way (at
 * most FLUSH_MS), and no longer than that for nobody. FLUSH_MS is an hour here, so any answer
 * that waited for the timer would time the test out. Writes are answered at commit
 * (WRITE_ACK=commit), so an answer shows when its flush ran.
 */
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ WRITE_ACK: 'commit', FLUSH_MS: '3600000' });
});
afterAll(async () => {
  await srv?.destroy();
});

/** Start a write whose body arrives only when `finish` is called. */
function slowWrite(body: string): { req: ClientRequest; finish: () => Promise<number> } {
  const url = new URL(`${srv.url}/write`);
  let answered!: (status: number) => void;
  const status = new Promise<number>((resolve) => (answered = resolve));
  const req = request({ agent: false, host: url.hostname, port: url.port, path: '/write', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    res.on('end', () => answered(res.statusCode ?? 0));
  });
  req.write(body.slice(0, 10));
  return {
    req,
    finish: () => {
      req.end(body.slice(10));
      return status;
    },
  };
}

const metric = async (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(await (await fetch(`${srv.url}/metrics`)).text())?.[1] ?? NaN);

/** Until the server counts `n` write requests on their way (announced at onRequest). */
async function arriving(n: number): Promise<void> {
  while ((await metric('metronome_write_requests_arriving')) !== n) await new Promise((r) => setImmediate(r));
}

describe('group commit over HTTP', () => {
  it('commits a lone write at once instead of after FLUSH_MS', async () => {
    const now = Date.now();
    const r = await postJson(`${srv.url}/write`, heroic('gc.lone', {}, [[now, 1]]));
    expect(r.status).toBe(200);
    expect((await exportSeries(srv.url, 'gc.lone'))[0].values).toEqual([1]);
  });

  it('holds a write while another request is on its way, and commits both in one flush once it arrives', async () => {
    const now = Date.now();
    const flushes = () => metric('metronome_flushes_total');
    const slow = slowWrite(JSON.stringify(heroic('gc.slow', {}, [[now, 2]])));
    await arriving(1);
    const before = await flushes();
    let fastDone = false;
    const fast = postJson(`${srv.url}/write`, heroic('gc.fast', {}, [[now, 3]])).then((r) => {
      fastDone = true;
      return r;
    });
    // The fast write is buffered, not answered, while the slow one is still being received.
    while ((await metric('metronome_buffered_points')) === 0) await new Promise((r) => setImmediate(r));
    expect(fastDone).toBe(false);
    expect(await flushes()).toBe(before);
    expect(await slow.finish()).toBe(200);
    expect((await fast).status).toBe(200);
    expect(await flushes()).toBe(before + 1);
    expect((await exportSeries(srv.url, 'gc.fast'))[0].values).toEqual([3]);
    expect((await exportSeries(srv.url, 'gc.slow'))[0].values).toEqual([2]);
  });

  it('does not wait for a request that was refused', async () => {
    const now = Date.now();
    const bad = slowWrite('{"not": "a heroic body"}');
    await arriving(1);
    const fast = postJson(`${srv.url}/write`, heroic('gc.after-refusal', {}, [[now, 4]]));
    expect(await bad.finish()).toBe(400);
    expect((await fast).status).toBe(200);
    await arriving(0);
  });
});
