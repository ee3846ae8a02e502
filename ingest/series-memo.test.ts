import { describe, expect, it } from 'vitest';
import { lineProtocol, promLabels, writeRequestBytes } from '../bench/wire.js';
import { toColumns } from './columns.js';
import { InfluxDecoder, precisionOf } from './decode-influx.js';
import { RemoteWriteDecoder } from './decode-remote-write.js';
import { seriesIdWords } from './series-id.js';
import type { WriteBatch } from './types.js';
import { DEFAULT_LIMITS, IssueList, validateBatch } from './validate.js';

const NOW = 1_800_000_000_000;
const ns = precisionOf('ns')!;

function remoteWrite(series: { key: string; tags: Record<string, string> }[]): Buffer {
  return writeRequestBytes({
    timeseries: series.map((s) => ({ labels: promLabels(s.key, s.tags), samples: [{ value: 1, timestamp: NOW - 1000 }] })),
  });
}

/** Validation issue codes and the ids toColumns gives, for a batch. */
function pass(batch: WriteBatch) {
  const codes = validateBatch(batch, DEFAULT_LIMITS, NOW).items.map((i) => `${i.series}:${i.code}`);
  const { ids } = toColumns(batch);
  return { codes, ids: Array.from(ids) };
}

describe('series memo (ids and validation kept with the decoder cache)', () => {
  it('gives a series seen again the same id and validity as computing them afresh', () => {
    const series: { key: string; tags: Record<string, string> }[] = [
      { key: 'up', tags: { job: 'a', instance: 'x:1' } },
      { key: 'up', tags: { job: 'b' } },
    ];
    const decoder = new RemoteWriteDecoder();
    const first = decoder.decode(remoteWrite(series)).batch;
    const second = decoder.decode(remoteWrite(series)).batch;
    expect(second.series[0].memo).toBe(first.series[0].memo);
    const a = pass(first);
    const b = pass(second);
    const fresh = series.flatMap((s) => seriesIdWords(s.key, s.tags));
    expect(a).toEqual({ codes: [], ids: fresh });
    expect(b).toEqual({ codes: [], ids: fresh });
    expect(second.series[0].memo?.validFor).toBe(DEFAULT_LIMITS);
  });

  it('reports an invalid cached series on every request, not only the first', () => {
    const decoder = new RemoteWriteDecoder();
    const body = remoteWrite([{ key: 'up', tags: { 'bad-name': 'v' } }, { key: 'ok', tags: {} }]);
    for (let round = 0; round < 3; round++) {
      expect(pass(decoder.decode(body).batch).codes).toEqual([`0:${'MTR_WRITE_TAG_NAME'}`]);
    }
  });

  it('checks a series validated under other limits again under the new ones', () => {
    const decoder = new RemoteWriteDecoder();
    const body = remoteWrite([{ key: 'a_rather_long_metric_name', tags: {} }]);
    expect(validateBatch(decoder.decode(body).batch, DEFAULT_LIMITS, NOW).ok).toBe(true);
    const strict = { ...DEFAULT_LIMITS, maxKeyLength: 5 };
    const issues = validateBatch(decoder.decode(body).batch, strict, NOW, new IssueList());
    expect(issues.items.map((i) => i.code)).toEqual(['MTR_WRITE_KEY_TOO_LONG']);
  });

  it('keeps one memo per Influx series and field, with the ids of each', () => {
    const decoder = new InfluxDecoder();
    const text = lineProtocol([
      { key: 'cpu_usage_user', tags: { host: 'a' }, timestamps: [NOW - 1000], values: [1] },
      { key: 'cpu_usage_idle', tags: { host: 'a' }, timestamps: [NOW - 1000], values: [2] },
    ]);
    const first = decoder.decode(text, ns, NOW, new IssueList()).batch;
    const second = decoder.decode(text, ns, NOW, new IssueList()).batch;
    expect(second.series.map((s) => s.memo)).toEqual(first.series.map((s) => s.memo));
    expect(second.series[0].memo).not.toBe(second.series[1].memo);
    pass(first);
    expect(pass(second)).toEqual({
      codes: [],
      ids: [...seriesIdWords('cpu_usage_user', { host: 'a' }), ...seriesIdWords('cpu_usage_idle', { host: 'a' })],
    });
  });
});
