import type { MetricMetadata } from '../../ingest/decode-remote-write.js';
import { chTime, type Store } from '../store/store.js';

/**
 * Records metric metadata (type, help, unit) from the write protocols into metric_metadata.
 * Prometheus re-sends every metric's metadata each minute and OTLP on every export, so a row is
 * written only when a metric's metadata differs from what this process last wrote.
 */
export class MetadataRecorder {
  readonly #last = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly maxRemembered = 100_000,
  ) {}

  /** Write the entries that changed. Resolves when they are stored. */
  async record(entries: readonly MetricMetadata[], now = Date.now()): Promise<number> {
    const rows: Record<string, unknown>[] = [];
    const fresh = new Map<string, string>();
    for (const m of entries) {
      if (m.metric === '') continue;
      const sig = `${m.type}\u0000${m.help}\u0000${m.unit}`;
      if (this.#last.get(m.metric) === sig || fresh.get(m.metric) === sig) continue;
      fresh.set(m.metric, sig);
      rows.push({ metric: m.metric, type: m.type, help: m.help, unit: m.unit, updated_at: chTime(now) });
    }
    if (rows.length === 0) return 0;
    await this.store.insertRows('metric_metadata', rows);
    if (this.#last.size + fresh.size > this.maxRemembered) this.#last.clear();
    for (const [k, v] of fresh) this.#last.set(k, v);
    return rows.length;
  }
}
