import { describe, expect, it } from 'vitest';
import { anyToString, decodeOtlp, normalizeName, parseOtlpJson, promUnit } from './decode-otlp.js';
import { otlpLabelName as labelName } from './names.js';
import { IssueList } from './validate.js';

const NOW = 1_700_000_000_000;
const nanos = (ms: number) => `${ms}000000`;

function decodeJson(obj: unknown) {
  const issues = new IssueList();
  const r = decodeOtlp(parseOtlpJson(JSON.stringify(obj)), NOW, issues);
  const points = r.batch.series.map((s) => ({ key: s.key, tags: s.tags, ts: s.timestamps[0], value: s.values[0] }));
  return { ...r, issues: issues.items, points };
}

const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }, { key: 'host.name', value: { stringValue: 'h1' } }] };
const req = (metrics: unknown[]) => ({ resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 's' }, metrics }] }] });

describe('OTLP to Prometheus naming', () => {
  it('normalises metric names', () => {
    expect(normalizeName('http.server.duration')).toBe('http_server_duration');
    expect(normalizeName('(lambda).function.executions(#)')).toBe('lambda_function_executions');
    expect(normalizeName('a..b__c')).toBe('a_b_c');
    expect(normalizeName('2xx.count')).toBe('_2xx_count');
    expect(normalizeName('ns:metric')).toBe('ns:metric');
    expect(normalizeName('...')).toBe('');
  });

  it('converts UCUM units to Prometheus unit words', () => {
    expect(promUnit('ms')).toBe('milliseconds');
    expect(promUnit('s')).toBe('seconds');
    expect(promUnit('By')).toBe('bytes');
    expect(promUnit('KiBy')).toBe('kibibytes');
    expect(promUnit('{packets}')).toBe('');
    expect(promUnit('By/s')).toBe('bytes_per_second');
    expect(promUnit('{request}/s')).toBe('per_second');
    expect(promUnit('m/s')).toBe('meters_per_second');
    expect(promUnit('1')).toBe('ratio');
    expect(promUnit('%')).toBe('percent');
    expect(promUnit('packets')).toBe('packets');
    expect(promUnit('')).toBe('');
  });

  it('makes label names valid', () => {
    expect(labelName('http.route')).toBe('http_route');
    expect(labelName('k8s..pod')).toBe('k8s_pod');
    expect(labelName('0abc')).toBe('key_0abc');
    expect(labelName('...')).toBe('');
  });

  it('turns non-string attribute values into text', () => {
    expect(anyToString({ boolValue: true })).toBe('true');
    expect(anyToString({ intValue: 42 })).toBe('42');
    expect(anyToString({ doubleValue: 1.5 })).toBe('1.5');
    expect(anyToString({ arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }] } })).toBe('["a",1]');
  });
});

describe('OTLP metric mapping', () => {
  it('maps a gauge with unit and attributes, taking service from the resource', () => {
    const { points, metadata } = decodeJson(
      req([
        {
          name: 'system.memory.usage',
          unit: 'By',
          description: 'Memory in use.',
          gauge: { dataPoints: [{ timeUnixNano: nanos(NOW - 5000), asInt: '1024', attributes: [{ key: 'state', value: { stringValue: 'used' } }] }] },
        },
      ]),
    );
    expect(points).toEqual([{ key: 'system_memory_usage_bytes', tags: { state: 'used', service: 'api' }, ts: NOW - 5000, value: 1024 }]);
    expect(metadata).toEqual([{ metric: 'system_memory_usage_bytes', type: 'gauge', help: 'Memory in use.', unit: 'bytes' }]);
  });

  it('maps cumulative monotonic sums to counters with _total and non-monotonic ones to gauges', () => {
    const { points, metadata } = decodeJson(
      req([
        { name: 'http.requests', unit: '{request}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: nanos(NOW), asDouble: 7 }] } },
        { name: 'jobs_total', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: nanos(NOW), asInt: 3 }] } },
        { name: 'queue.depth', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE', isMonotonic: false, dataPoints: [{ timeUnixNano: nanos(NOW), asInt: -2 }] } },
      ]),
    );
    expect(points.map((p) => [p.key, p.value])).toEqual([
      ['http_requests_total', 7],
      ['jobs_total', 3],
      ['queue_depth', -2],
    ]);
    expect(metadata.map((m) => [m.metric, m.type])).toEqual([
      ['http_requests_total', 'counter'],
      ['jobs_total', 'counter'],
      ['queue_depth', 'gauge'],
    ]);
  });

  it('maps an explicit-bucket histogram to cumulative _bucket series, _count and _sum', () => {
    const { points } = decodeJson(
      req([
        {
          name: 'http.server.duration',
          unit: 'ms',
          histogram: {
            aggregationTemporality: 2,
            dataPoints: [{ timeUnixNano: nanos(NOW), count: '6', sum: 321.5, bucketCounts: ['1', '2', '3'], explicitBounds: [10, 100] }],
          },
        },
      ]),
    );
    const name = 'http_server_duration_milliseconds';
    expect(points.map((p) => [p.key, p.tags.le, p.value])).toEqual([
      [`${name}_bucket`, '10', 1],
      [`${name}_bucket`, '100', 3],
      [`${name}_bucket`, '+Inf', 6],
      [`${name}_count`, undefined, 6],
      [`${name}_sum`, undefined, 321.5],
    ]);
  });

  it('maps a summary to quantile series, _count and _sum', () => {
    const { points } = decodeJson(
      req([
        {
          name: 'rpc.latency',
          unit: 's',
          summary: { dataPoints: [{ timeUnixNano: nanos(NOW), count: 4, sum: 2, quantileValues: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 0.9 }] }] },
        },
      ]),
    );
    expect(points.map((p) => [p.key, p.tags.quantile, p.value])).toEqual([
      ['rpc_latency_seconds', '0.5', 0.4],
      ['rpc_latency_seconds', '0.99', 0.9],
      ['rpc_latency_seconds_count', undefined, 4],
      ['rpc_latency_seconds_sum', undefined, 2],
    ]);
  });

  it('rejects delta sums, delta histograms and exponential histograms with reasons, storing the rest', () => {
    const r = decodeJson(
      req([
        { name: 'd', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: 1 }, { asInt: 2 }] } },
        { name: 'h', histogram: { aggregationTemporality: 1, dataPoints: [{ count: 1 }] } },
        { name: 'e', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ count: 1 }] } },
        { name: 'kept', gauge: { dataPoints: [{ asDouble: 1 }] } },
      ]),
    );
    expect(r.rejected).toBe(4);
    expect(r.rejectedReasons.join('\n')).toMatch(/delta temporality is not supported.*cumulative/);
    expect(r.rejectedReasons.join('\n')).toMatch(/exponential histogram "e"/);
    expect(r.points.map((p) => p.key)).toEqual(['kept']);
  });

  it('treats "no recorded value" points as staleness markers and 0 timestamps as now', () => {
    const r = decodeJson(req([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: nanos(NOW - 1), asDouble: 1, flags: 1 }, { asDouble: 2 }] } }]));
    expect(r.staleMarks).toEqual([{ key: 'g', tags: { service: 'api' }, ts: NOW - 1 }]);
    expect(r.points).toEqual([{ key: 'g', tags: { service: 'api' }, ts: NOW, value: 2 }]);
  });

  it('joins the values of attributes that map to one label name, in key order', () => {
    const r = decodeJson(
      req([
        {
          name: 'g',
          gauge: {
            dataPoints: [
              {
                asDouble: 1,
                attributes: [
                  { key: 'a.b', value: { stringValue: 'dot' } },
                  { key: 'a-b', value: { stringValue: 'dash' } },
                  { key: 'n', value: { intValue: '9007199254740993' } },
                ],
              },
            ],
          },
        },
      ]),
    );
    expect(r.points[0].tags).toEqual({ a_b: 'dash;dot', n: '9007199254740993', service: 'api' });
  });

  it('reports malformed histograms and nameless metrics as issues with their position', () => {
    const r = decodeJson(
      req([
        { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ count: 1, bucketCounts: [1, 0], explicitBounds: [1, 2] }] } },
        { name: '...', gauge: { dataPoints: [{ asDouble: 1 }] } },
      ]),
    );
    expect(r.issues.map((i) => [i.code, i.field])).toEqual([
      ['MTR_WRITE_OTLP_HISTOGRAM_BUCKETS', 'resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts'],
      ['MTR_WRITE_OTLP_METRIC_NAME', 'resourceMetrics[0].scopeMetrics[0].metrics[1].name'],
    ]);
  });

  it('converts nanosecond timestamps to milliseconds exactly', () => {
    const r = decodeJson(req([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: '1700000000123999999', asDouble: 1 }] } }]));
    expect(r.points[0].ts).toBe(1_700_000_000_123);
  });
});
