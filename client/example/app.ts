import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { init } from '../src/index.js';

/**
 * An example service on the golden path: a small shop API instrumented with @metronome/client.
 *
 *   METRONOME_URL=http://127.0.0.1:8080 SERVICE_NAME=shop PORT=3000 npx tsx client/example/app.ts
 *
 * Routes: GET /healthz, GET /api/items, GET /api/items/:id (404 for unknown ids),
 * POST /api/orders (a 500 about one time in ten), GET /api/search (slow: 50-400 ms).
 * Optional: METRONOME_TOKEN, METRONOME_PUSH_INTERVAL_MS (default 10000), EXAMPLE_SEED (failures
 * and latencies are drawn from a seeded generator, so a run replays).
 */

const env = process.env;
const port = Number(env.PORT ?? 3000);
const service = env.SERVICE_NAME ?? 'shop';
const url = env.METRONOME_URL ?? 'http://127.0.0.1:8080';

// mulberry32: a tiny seeded PRNG, so the failures of a run can be replayed.
let seed = Number(env.EXAMPLE_SEED ?? 42) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const metronome = init({
  service,
  url,
  ...(env.METRONOME_TOKEN ? { token: env.METRONOME_TOKEN } : {}),
  ...(env.METRONOME_PUSH_INTERVAL_MS ? { intervalMs: Number(env.METRONOME_PUSH_INTERVAL_MS) } : {}),
  // Registered as the service's health link: Metronome probes it (black-box) by default.
  healthUrl: `http://127.0.0.1:${port}/healthz`,
  // The service's package.json (owner, description, repository); a service's own is found from cwd.
  packageDir: dirname(fileURLToPath(import.meta.url)),
});

const app = Fastify();
// Before the routes: the plugin's hook sees every route registered after it.
await app.register(metronome.fastify);

const items = new Map([
  ['1', { id: '1', name: 'metronome', price: 49 }],
  ['2', { id: '2', name: 'tuning fork', price: 12 }],
  ['3', { id: '3', name: 'music stand', price: 35 }],
]);

app.get('/healthz', async () => ({ ok: true }));
app.get('/api/items', async () => [...items.values()]);
app.get('/api/items/:id', async (req, reply) => {
  const item = items.get((req.params as { id: string }).id);
  return item ?? reply.status(404).send({ error: 'no such item' });
});
app.post('/api/orders', async (_req, reply) => {
  if (random() < 0.1) return reply.status(500).send({ error: 'payment backend timed out' });
  return reply.status(201).send({ id: Math.floor(random() * 1e9).toString(36) });
});
app.get('/api/search', async () => {
  await new Promise((r) => setTimeout(r, 50 + random() * 350));
  return { hits: [] };
});

const address = await app.listen({ port, host: '127.0.0.1' });
console.log(`${service} listening on ${address}, pushing to ${url}`);

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, async () => {
    await app.close();
    await metronome.close(); // pushes the last numbers
    process.exit(0);
  });
}
