import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { evalSlot, groupOffset } from './evaluator.js';
import { commonOf, webhookPayload, type Notification } from './receivers.js';
import { log as logKind } from './receivers/log/index.js';

const T = Date.UTC(2024, 0, 2, 3, 4, 5);
const n: Notification = {
  receiver: 'team',
  groupKey: '{}:{alertname="A"}',
  groupLabels: { alertname: 'A' },
  externalURL: 'http://metronome:8080',
  now: T,
  alerts: [
    { status: 'firing', alert: { fingerprint: '0000000000000001', labels: { alertname: 'A', instance: 'x', env: 'prod' }, annotations: { summary: 's', x: '1' }, startsAt: T - 60_000, endsAt: T + 240_000, generatorURL: 'g', updatedAt: T } },
    { status: 'resolved', alert: { fingerprint: '0000000000000002', labels: { alertname: 'A', instance: 'y', env: 'prod' }, annotations: { summary: 's' }, startsAt: T - 120_000, endsAt: T - 1000, generatorURL: 'g', updatedAt: T } },
  ],
};

describe('receivers', () => {
  it('builds the Alertmanager webhook v4 body', () => {
    const p = webhookPayload(n, 1);
    expect(p).toEqual({
      receiver: 'team',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'A', instance: 'x', env: 'prod' },
          annotations: { summary: 's', x: '1' },
          startsAt: '2024-01-02T03:03:05.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'g',
          fingerprint: '0000000000000001',
        },
      ],
      groupLabels: { alertname: 'A' },
      commonLabels: { alertname: 'A', env: 'prod' },
      commonAnnotations: { summary: 's' },
      externalURL: 'http://metronome:8080',
      version: '4',
      groupKey: '{}:{alertname="A"}',
      truncatedAlerts: 1,
    });
    expect(webhookPayload({ ...n, alerts: [n.alerts[1]] }).status).toBe('resolved');
    expect(commonOf([])).toEqual({});
  });

  it('logs a notification as one structured line', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const log = logKind.create({ level: 'warn' }, { log: pino({ level: 'info' }, sink) });
    expect(await log.send(n, new AbortController().signal)).toEqual({ ok: true, retry: false });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, receiver: 'team', status: 'firing', msg: 'alert notification: firing alertname=A (2 alert(s))' });
  });

  it('spreads groups over their interval and aligns evaluations to it', () => {
    const offsets = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => groupOffset(`api/${k}`, 60_000));
    expect(new Set(offsets).size).toBe(6);
    for (const o of offsets) {
      expect(o).toBeGreaterThanOrEqual(0);
      expect(o).toBeLessThan(60_000);
    }
    expect(groupOffset('api/a', 60_000)).toBe(offsets[0]);
    expect(evalSlot(125_000, 30_000, 7_000)).toBe(97_000);
    expect(evalSlot(127_000, 30_000, 7_000)).toBe(127_000);
  });
});
