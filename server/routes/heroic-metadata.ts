import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { MetronomeError } from '../errors.js';
import {
  countSeries,
  countTagKeys,
  deleteSeries,
  findKeys,
  findSeries,
  findTags,
  suggestKeys,
  suggestTags,
  suggestTagValues,
  suggestTagValuesGrouped,
  type CatalogQuery,
  type LimitNote,
} from '../series/catalog.js';
import { dateRange, FilterError, filterSql } from '../series/heroic-filter.js';

/** The server's ceiling on any metadata answer, whatever limit the caller asks for. */
const MAX_METADATA_RESULTS = 10_000;

/**
 * Heroic's metadata and suggest endpoints (same paths and JSON shapes as Heroic), answered from
 * the series table. Each answer carries `limited` and, when a limit cut it, `limit` naming it.
 */
export async function heroicMetadataRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const store = ctx.store;
  // Reads see every write answered before them (a write answered from the log: server/writer.ts).
  app.addHook('preHandler', async () => ctx.writer.settled());
  const route = <T extends { limited: boolean }>(url: string, defaultLimit: number, run: (q: CatalogQuery, body: Record<string, unknown>) => Promise<T>) =>
    app.post(url, async (req) => {
      const body = bodyOf(req);
      const { query, note } = catalogQuery(body, defaultLimit);
      const result = await run(query, body);
      return { errors: [], ...result, ...(result.limited ? { limit: note } : {}) };
    });

  route('/metadata/keys', 1000, async (q) => {
    const r = await findKeys(store, q);
    return { keys: r.keys, size: r.size, duplicates: 0, limited: r.limited };
  });
  route('/metadata/tags', 1000, (q) => findTags(store, q));
  route('/metadata/series', 1000, (q) => findSeries(store, q));
  route('/metadata/series-count', MAX_METADATA_RESULTS, (q) => countSeries(store, q));
  route('/metadata/key-suggest', 10, (q, body) => suggestKeys(store, { ...q, prefix: optionalString(body, 'key') }));
  route('/metadata/tag-suggest', 10, (q, body) => suggestTags(store, { ...q, key: optionalString(body, 'key'), value: optionalString(body, 'value') }));
  route('/metadata/tag-value-suggest', 10, (q, body) => {
    const key = optionalString(body, 'key');
    if (!key) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['key', 'the tag whose values to suggest is required']);
    return suggestTagValues(store, { ...q, key, value: optionalString(body, 'value') });
  });
  // The Grafana data source's tag editor: tag names by how many series carry them.
  route('/metadata/tagkey-count', 10, (q) => countTagKeys(store, q));
  route('/metadata/tag-values-suggest', 10, (q, body) => {
    const exclude = body.exclude ?? [];
    if (!Array.isArray(exclude) || exclude.some((x) => typeof x !== 'string')) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['exclude', 'expected a list of tag names']);
    const groupLimit = body.groupLimit ?? 10;
    if (typeof groupLimit !== 'number' || !Number.isInteger(groupLimit) || groupLimit < 1) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['groupLimit', 'expected a positive integer']);
    return suggestTagValuesGrouped(store, { ...q, exclude: exclude as string[], groupLimit: Math.min(groupLimit, MAX_METADATA_RESULTS) });
  });
  // Admin only (server/auth/scopes.ts): removes the series and their points.
  app.delete('/metadata/series', async (req) => {
    const body = bodyOf(req);
    if (body.filter === undefined || body.filter === null) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['filter', 'a filter is required to delete series (["true"] deletes all)']);
    const { query } = catalogQuery(body, MAX_METADATA_RESULTS);
    const r = await deleteSeries(store, { filter: query.filter, range: query.range });
    return { errors: [], deleted: r.deleted, failed: 0 };
  });
}

function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const b = req.body ?? {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['body', 'expected a JSON object']);
  return b as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new MetronomeError('MTR_METADATA_BAD_REQUEST', [name, 'expected a string']);
  return v;
}

/** filter, range and limit of a request; the limit is clamped to the server maximum. */
function catalogQuery(body: Record<string, unknown>, defaultLimit: number): { query: CatalogQuery; note: LimitNote } {
  let range: { start: number; end: number } | undefined;
  try {
    range = dateRange(body.range);
    if (body.filter !== undefined && body.filter !== null) {
      // Validate now, so a bad filter is a 400 naming the element rather than a failed query.
      filterSql(body.filter);
    }
  } catch (e) {
    if (e instanceof FilterError) throw new MetronomeError('MTR_METADATA_BAD_REQUEST', [e.path, e.reason]);
    throw e;
  }
  const asked = body.limit;
  if (asked !== undefined && asked !== null && (typeof asked !== 'number' || !Number.isInteger(asked) || asked < 1)) {
    throw new MetronomeError('MTR_METADATA_BAD_REQUEST', ['limit', 'expected a positive integer']);
  }
  const want = (asked as number | undefined) ?? defaultLimit;
  const limit = Math.min(want, MAX_METADATA_RESULTS);
  const note: LimitNote = want > MAX_METADATA_RESULTS ? { name: 'MAX_METADATA_RESULTS', value: MAX_METADATA_RESULTS } : { name: 'limit', value: limit };
  return { query: { filter: body.filter ?? undefined, range, limit }, note };
}
