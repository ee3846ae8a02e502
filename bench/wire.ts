/**
 * Encoders for the write protocols, built on the reference libraries rather than on
 * Metronome's own decoders, so the bench and the tests send what real clients send:
 * - Prometheus remote write: protobufjs with prompb/remote.proto's messages, snappy (block format);
 * - Influx line protocol: text, escaped per the line protocol reference;
 * - OTLP: @opentelemetry/otlp-transformer's serializers over sdk-metrics' ResourceMetrics.
 */
import type { HrTime } from '@opentelemetry/api';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import protobuf from 'protobufjs';
import snappy from 'snappy';

/** One series' samples (the bench's BenchSeries shape). */
export interface WireSeries {
  key: string;
  tags: Record<string, string>;
  timestamps: readonly number[];
  values: readonly number[];
}

// prompb/remote.proto + types.proto (remote write 1.0), the fields a sender fills.
const REMOTE_PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
message TimeSeries {
  repeated Label labels = 1; repeated Sample samples = 2;
  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4;
}
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
message Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
message Histogram { uint64 count_int = 1; double sum = 3; sint32 schema = 4; int64 timestamp = 15; }
message MetricMetadata {
  enum MetricType { UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7; }
  MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5;
}
`;

export const WriteRequest = protobuf.parse(REMOTE_PROTO, { keepCase: false }).root.lookupType('prometheus.WriteRequest');

/** A WriteRequest object (protobufjs' camelCase form) as uncompressed protobuf bytes. */
export function writeRequestBytes(req: Record<string, unknown>): Buffer {
  const bytes = WriteRequest.encode(WriteRequest.fromObject(req)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A WriteRequest object as Prometheus sends it: snappy block-compressed protobuf. */
export function encodeWriteRequest(req: Record<string, unknown>): Buffer {
  return snappy.compressSync(writeRequestBytes(req));
}

/** Labels of a series as Prometheus orders them (sorted by name, __name__ included). */
export function promLabels(key: string, tags: Record<string, string>): { name: string; value: string }[] {
  return [{ name: '__name__', value: key }, ...Object.entries(tags).map(([name, value]) => ({ name, value }))].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

/**
 * Series as a remote-write request. `perSample` repeats the labels for every sample, which is
 * what Prometheus' queue manager does; otherwise each series carries all its samples.
 */
export function remoteWriteRequest(series: readonly WireSeries[], perSample = true): Record<string, unknown> {
  const timeseries: unknown[] = [];
  for (const s of series) {
    const labels = promLabels(s.key, s.tags);
    if (perSample) {
      for (let i = 0; i < s.timestamps.length; i++) {
        timeseries.push({ labels, samples: [{ value: s.values[i], timestamp: s.timestamps[i] }] });
      }
    } else {
      timeseries.push({ labels, samples: s.timestamps.map((t, i) => ({ value: s.values[i], timestamp: t })) });
    }
  }
  return { timeseries };
}

// io.prometheus.write.v2 (remote write 2.0): strings interned in `symbols`, labels as refs.
// TimeSeries.created_timestamp (6) is what Prometheus 3.0-3.4 sends; newer senders put the
// start timestamp on each Sample (3).
const REMOTE_V2_PROTO = `
syntax = "proto3";
package io.prometheus.write.v2;
message Request { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
message TimeSeries {
  repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated Histogram histograms = 3;
  repeated Exemplar exemplars = 4; Metadata metadata = 5; int64 created_timestamp = 6;
}
message Exemplar { repeated uint32 labels_refs = 1; double value = 2; int64 timestamp = 3; }
message Sample { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
message Metadata {
  enum MetricType { METRIC_TYPE_UNSPECIFIED = 0; METRIC_TYPE_COUNTER = 1; METRIC_TYPE_GAUGE = 2; METRIC_TYPE_HISTOGRAM = 3;
    METRIC_TYPE_GAUGEHISTOGRAM = 4; METRIC_TYPE_SUMMARY = 5; METRIC_TYPE_INFO = 6; METRIC_TYPE_STATESET = 7; }
  MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4;
}
message Histogram { uint64 count_int = 1; double sum = 3; sint32 schema = 4; int64 timestamp = 15; }
`;

export const RequestV2 = protobuf.parse(REMOTE_V2_PROTO, { keepCase: false }).root.lookupType('io.prometheus.write.v2.Request');

/** A v2 Request object (protobufjs' camelCase form) as uncompressed protobuf bytes. */
export function requestV2Bytes(req: Record<string, unknown>): Buffer {
  const bytes = RequestV2.encode(RequestV2.fromObject(req)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Interns strings into a v2 symbols table (which starts with ""), as a sender builds it. */
export class SymbolTable {
  readonly symbols: string[] = [''];
  readonly #index = new Map<string, number>([['', 0]]);
  ref(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.symbols.length;
      this.symbols.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
  refs(labels: readonly { name: string; value: string }[]): number[] {
    return labels.flatMap((l) => [this.ref(l.name), this.ref(l.value)]);
  }
}

/** Series as a remote write 2.0 Request, one TimeSeries per sample as Prometheus 3 sends them. */
export function remoteWriteV2Request(series: readonly WireSeries[]): Record<string, unknown> {
  const table = new SymbolTable();
  const timeseries: unknown[] = [];
  for (const s of series) {
    const labelsRefs = table.refs(promLabels(s.key, s.tags));
    for (let i = 0; i < s.timestamps.length; i++) {
      timeseries.push({ labelsRefs, samples: [{ value: s.values[i], timestamp: s.timestamps[i] }] });
    }
  }
  return { symbols: table.symbols, timeseries };
}

/** Series as Prometheus 3 sends them with remote write 2.0: snappy block-compressed. */
export function encodeRemoteWriteV2(series: readonly WireSeries[]): Buffer {
  return snappy.compressSync(requestV2Bytes(remoteWriteV2Request(series)));
}

const escTag = (s: string) => s.replace(/[,= ]/g, (c) => '\\' + c);
const escMeasurement = (s: string) => s.replace(/[, ]/g, (c) => '\\' + c);

/**
 * Series as line protocol with nanosecond timestamps: series sharing a measurement prefix
 * (`cpu_usage_user` -> measurement `cpu`, field `usage_user`), tags and timestamp become one
 * line with several fields, as Telegraf writes them (TSBS cpu-only: 10 fields per line).
 */
export function lineProtocol(series: readonly WireSeries[]): string {
  const lines = new Map<string, { head: string; ts: number; fields: string[] }>();
  for (const s of series) {
    const cut = s.key.indexOf('_');
    const measurement = cut > 0 ? s.key.slice(0, cut) : s.key;
    const field = cut > 0 ? s.key.slice(cut + 1) : 'value';
    const tagText = Object.keys(s.tags)
      .sort()
      .map((k) => `,${escTag(k)}=${escTag(s.tags[k])}`)
      .join('');
    const head = escMeasurement(measurement) + tagText;
    for (let i = 0; i < s.timestamps.length; i++) {
      const id = `${head} ${s.timestamps[i]}`;
      let line = lines.get(id);
      if (!line) {
        line = { head, ts: s.timestamps[i], fields: [] };
        lines.set(id, line);
      }
      line.fields.push(`${escTag(field)}=${s.values[i]}`);
    }
  }
  let out = '';
  for (const l of lines.values()) out += `${l.head} ${l.fields.join(',')} ${l.ts}000000\n`;
  return out;
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

/** Series as OTLP gauges (one metric per key) under one resource, as an SDK would collect them. */
export function otlpResourceMetrics(series: readonly WireSeries[], resource: Record<string, string> = {}): ResourceMetrics {
  const byKey = new Map<string, MetricData>();
  for (const s of series) {
    let m = byKey.get(s.key);
    if (!m) {
      m = {
        descriptor: { name: s.key, description: '', unit: '', valueType: 1 },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: [],
      };
      byKey.set(s.key, m);
    }
    for (let i = 0; i < s.timestamps.length; i++) {
      (m.dataPoints as { startTime: HrTime; endTime: HrTime; attributes: Record<string, string>; value: number }[]).push({
        startTime: hrTime(s.timestamps[i]),
        endTime: hrTime(s.timestamps[i]),
        attributes: s.tags,
        value: s.values[i],
      });
    }
  }
  return {
    resource: resourceFromAttributes(resource),
    scopeMetrics: [{ scope: { name: 'metronome-bench' }, metrics: [...byKey.values()] }],
  };
}

/** OTLP/HTTP bodies from ResourceMetrics with the official serializers. */
export function otlpProtobuf(rm: ResourceMetrics): Buffer {
  const bytes = ProtobufMetricsSerializer.serializeRequest(rm)!;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function otlpJson(rm: ResourceMetrics): string {
  return Buffer.from(JsonMetricsSerializer.serializeRequest(rm)!).toString('utf8');
}
