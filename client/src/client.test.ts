import snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import { RemoteWriteDecoder } from '../../ingest/decode-remote-write.js';
import { ManualClock } from '../../server/alerting/clock.js';
import { middleware, httpMetrics } from './http.js';
import { Registry, type Sample } from './metrics.js';
import { Pusher, type TransportResponse } from './pusher.js';
import { compress, encodeWriteRequest } from './remote-write.js';
import { mergeRegistration, repositoryUrl, serviceInfoFrom } from './register.js';
import { runtimeMetrics } from './runtime.js';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What Metronome's own remote-write decoder reads from a body the client built. */
function decode(body: Uint8Array) {
  return new RemoteWriteDecoder().decode(snappy.uncompressSync(Buffer.from(body)) as Buffer);
}

const sample = (name: string, value: number, labels: Record<string, string> = {}): Sample => ({ labels: { __name__: name, ...labels }, value });

describe('remote-write encoding', () => {
  it('is read back by the server decoder: names, labels, values, millisecond timestamps and metadata', () => {
    const t = 1_764_000_000_123;
    const body = compress(
      encodeWriteRequest(
        [
          { sample: sample('http_requests_total', 42, { route: '/users/:id', code: '200', service: 'shop', 'ünïcode': 'ok ✓' }), timestamp: t },
          { sample: sample('nodejs_eventloop_lag_seconds', 0.0123), timestamp: t + 1 },
          { sample: sample('weird', -1.5e-300), timestamp: 0 },
          // Lengths past one varint byte: a 300-byte value in a label message past 128 bytes.
          { sample: sample('long', 1, { v: 'é'.repeat(150) }), timestamp: 2 ** 53 - 1 },
        ],
        [{ name: 'http_requests_total', type: 'counter', help: 'Requests.' }, { name: 'http_request_duration_seconds', type: 'histogram', help: 'Latency.', unit: 'seconds' }],
      ),
    );
    const out = decode(body);
    const series = out.batch.series.map((s) => ({ key: s.key, tags: s.tags, ts: Array.from(s.timestamps), v: Array.from(s.values) }));
    expect(series).toEqual([
      { key: 'http_requests_total', tags: { route: '/users/:id', code: '200', service: 'shop', 'ünïcode': 'ok ✓' }, ts: [t], v: [42] },
      { key: 'nodejs_eventloop_lag_seconds', tags: {}, ts: [t + 1], v: [0.0123] },
      { key: 'weird', tags: {}, ts: [0], v: [-1.5e-300] },
      { key: 'long', tags: { v: 'é'.repeat(150) }, ts: [2 ** 53 - 1], v: [1] },
    ]);
    expect(out.metadata).toEqual([
      { metric: 'http_requests_total', type: 'counter', help: 'Requests.', unit: '' },
      { metric: 'http_request_duration_seconds', type: 'histogram', help: 'Latency.', unit: 'seconds' },
    ]);
  });
});

describe('metrics', () => {
  it('collects a histogram as cumulative buckets with +Inf, _sum and _count', () => {
    const reg = new Registry();
    const h = reg.histogram({ name: 'lat_seconds', help: '' }, ['route'], [0.1, 1]);
    for (const v of [0.05, 0.5, 0.5, 3]) h.observe(['/a'], v);
    const got = Object.fromEntries(reg.collect({ service: 's' }).map((s) => [`${s.labels.__name__}${s.labels.le ?? ''}`, s.value]));
    expect(got).toEqual({ 'lat_seconds_bucket0.1': 1, lat_seconds_bucket1: 3, 'lat_seconds_bucket+Inf': 4, lat_seconds_sum: 4.05, lat_seconds_count: 4 });
  });

  it('folds label sets past the limit into "other" so a runaway label cannot grow the series count', () => {
    const reg = new Registry(3);
    const c = reg.counter({ name: 'c_total', help: '' }, ['route']);
    for (let i = 0; i < 100; i++) c.inc([`/path/${i}`]);
    const got = reg.collect({}).map((s) => [s.labels.route, s.value]);
    expect(got).toEqual([
      ['/path/0', 1],
      ['/path/1', 1],
      ['/path/2', 1],
      ['other', 97],
    ]);
    expect(c.overflowed).toBe(97);
  });

  it('reads runtime metrics under the names the dashboard generator knows', () => {
    const reg = new Registry();
    const stop = runtimeMetrics(reg);
    try {
      const names = new Set(reg.collect({}).map((s) => s.labels.__name__));
      for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds_sum', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles']) {
        expect(names, n).toContain(n);
      }
      const cpu = reg.collect({}).find((s) => s.labels.__name__ === 'process_cpu_seconds_total')!;
      expect(cpu.value).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  it('the middleware records the express route template, the method and the status once per request', () => {
    const reg = new Registry();
    const m = httpMetrics(reg);
    const mw = middleware(m);
    const req = Object.assign(new EventEmitter(), { method: 'get', baseUrl: '/api', route: { path: '/users/:id' } }) as unknown as IncomingMessage;
    const res = Object.assign(new EventEmitter(), { statusCode: 503 }) as unknown as ServerResponse;
    let nextCalled = false;
    mw(req, res, () => (nextCalled = true));
    expect(nextCalled).toBe(true);
    res.emit('finish');
    res.emit('close');
    const c = reg.collect({}).filter((s) => s.labels.__name__ === 'http_requests_total');
    expect(c).toEqual([{ labels: { __name__: 'http_requests_total', route: '/api/users/:id', method: 'GET', code: '503' }, value: 1 }]);
  });
});

describe('node:http middleware', () => {
  it('records real requests by the route a function gives, method and status, with their latency', async () => {
    const { createServer } = await import('node:http');
    const reg = new Registry();
    const mw = middleware(httpMetrics(reg), { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) });
    const server = createServer((req, res) => {
      mw(req, res);
      res.statusCode = req.url === '/users/2' ? 500 : 200;
      setTimeout(() => res.end('x'), req.url === '/users/2' ? 30 : 0);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      for (const path of ['/users/1', '/users/2', '/nope']) await (await fetch(base + path, { method: path === '/nope' ? 'POST' : 'GET' })).text();
    } finally {
      await new Promise((r) => server.close(r));
    }
    const out = reg.collect({});
    const counts = out.filter((s) => s.labels.__name__ === 'http_requests_total').map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.code} ${s.value}`);
    expect(counts.sort()).toEqual(['GET /users/:id 200 1', 'GET /users/:id 500 1', 'POST unmatched 200 1']);
    const sum = out.find((s) => s.labels.__name__ === 'http_request_duration_seconds_sum' && s.labels.route === '/users/:id')!;
    expect(sum.value).toBeGreaterThanOrEqual(0.025);
  });
});

describe('package.json', () => {
  it('gives owner, description and links, and a registration never overwrites what an operator set', () => {
    expect(repositoryUrl('github:a/b')).toBe('https://github.com/a/b');
    expect(repositoryUrl({ type: 'git', url: 'git+https://gitlab.com/g/p.git' })).toBe('https://gitlab.com/g/p');
    expect(repositoryUrl('git@github.com:a/b.git')).toBe('https://github.com/a/b');
    expect(repositoryUrl('file:../x')).toBeUndefined();
    const info = serviceInfoFrom({ description: 'Cart', author: 'Jane Doe <jane@example.com>', repository: 'a/cart', metronome: { runbook: 'https://rb/cart' } });
    expect(info).toEqual({ description: 'Cart', owner: { team: 'Jane Doe', contact: 'jane@example.com' }, links: { repository: 'https://github.com/a/cart', runbook: 'https://rb/cart' } });
    expect(mergeRegistration('cart', null, info)).toEqual({ name: 'cart', ...info });
    const current = { registered: true, name: 'cart', owner: { team: 'payments' }, tier: 'critical', links: { runbook: 'https://ops/cart' }, health: { status: 'ok' } };
    expect(mergeRegistration('cart', current, info)).toEqual({
      name: 'cart',
      owner: { team: 'payments' },
      tier: 'critical',
      description: 'Cart',
      links: { runbook: 'https://ops/cart', repository: 'https://github.com/a/cart' },
    });
    expect(mergeRegistration('cart', { ...current, description: 'Cart', links: { runbook: 'x', repository: 'y' } }, info)).toBeNull();
  });
});

/** A transport answering from a script, recording what was sent and when. */
function scripted(clock: ManualClock, answers: (TransportResponse | Error)[]) {
  const sent: { at: number; samples: number; metadata: number }[] = [];
  return {
    sent,
    transport: async (body: Uint8Array) => {
      const d = decode(body);
      sent.push({ at: clock.now(), samples: d.batch.points, metadata: d.metadata.length });
      const a = answers.shift() ?? { status: 204 };
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));
const samples = (n: number) => Array.from({ length: n }, (_, i) => sample('g', i, { i: String(i) }));

describe('the pusher', () => {
  it('batches, retries 5xx and network errors with growing backoff, honours Retry-After, and loses nothing it kept', async () => {
    const clock = new ManualClock(1_000_000);
    const t = scripted(clock, [new Error('ECONNREFUSED'), { status: 503 }, { status: 429, retryAfter: 7 }, { status: 204 }, { status: 204 }]);
    const p = new Pusher({ transport: t.transport, clock, maxSamplesPerSend: 60, minBackoffMs: 1000, random: () => 0.5 });
    p.setMetadata([{ name: 'g', type: 'gauge', help: 'x' }]);
    p.enqueue(samples(100), clock.now());
    await settle();
    expect(t.sent).toEqual([{ at: 1_000_000, samples: 60, metadata: 1 }]);
    // Backoff: 1000 * 2^attempt, equal jitter (random 0.5 -> 75% of the cap).
    await clock.advance(749);
    await settle();
    expect(t.sent).toHaveLength(1);
    await clock.advance(1);
    await settle();
    expect(t.sent.map((s) => s.at)).toEqual([1_000_000, 1_000_750]);
    await clock.advance(1500);
    await settle();
    expect(t.sent.map((s) => s.at)).toEqual([1_000_000, 1_000_750, 1_002_250]);
    // 429 with Retry-After: 7 s, not the backoff.
    await clock.advance(6999);
    await settle();
    expect(t.sent).toHaveLength(3);
    await clock.advance(1);
    await settle();
    await settle();
    expect(t.sent.slice(3)).toEqual([
      { at: 1_009_250, samples: 60, metadata: 1 },
      { at: 1_009_250, samples: 40, metadata: 0 },
    ]);
    expect(p.stats).toMatchObject({ sentSamples: 100, sentRequests: 2, droppedSamples: 0, failedRequests: 3, buffered: 0, lastError: null });
  });

  it('drops the oldest samples past the bounded buffer, and a batch the server refuses for good', async () => {
    const clock = new ManualClock(0);
    const errors: string[] = [];
    const t = scripted(clock, [{ status: 503 }, { status: 400, body: 'bad label' }]);
    const p = new Pusher({ transport: t.transport, clock, maxBufferedSamples: 50, maxSamplesPerSend: 1000, minBackoffMs: 100, random: () => 0, onError: (m) => errors.push(m) });
    p.enqueue(samples(30), 0);
    await settle();
    expect(t.sent).toHaveLength(1); // 503: retry pending; the app keeps enqueueing
    p.enqueue(samples(30), 10);
    p.enqueue(samples(30), 20);
    expect(p.stats.buffered).toBe(50);
    expect(p.stats.droppedSamples).toBe(40);
    await clock.advance(100);
    await settle();
    expect(t.sent[1].samples).toBe(50);
    expect(p.stats).toMatchObject({ buffered: 0, droppedSamples: 90, sentSamples: 0 });
    expect(errors).toEqual(['push answered 503', 'buffer full (50 samples): dropped the oldest', 'push answered 400: bad label']);
    expect(p.retrying).toBe(false);
  });

  it('never throws into the application when the transport does, and flush gives up at its deadline', async () => {
    const clock = new ManualClock(0);
    const p = new Pusher({
      transport: async () => {
        throw new Error('boom');
      },
      clock,
    });
    expect(() => p.enqueue(samples(3), 0)).not.toThrow();
    await settle();
    await p.flush(1000);
    expect(p.stats).toMatchObject({ buffered: 3, sentSamples: 0, lastError: 'push failed: boom' });
    p.close();
    expect(p.retrying).toBe(false);
  });
});
