import { describe, expect, it } from 'vitest';
import { postableAlert, targetOf } from './forwarder.js';

describe('forwarding to Alertmanagers', () => {
  it("posts to the base URL's /api/v2/alerts with credentials moved to a header", () => {
    expect(targetOf('http://am:9093')).toEqual({ url: 'http://am:9093/api/v2/alerts', headers: {} });
    expect(targetOf('https://ops:p%40ss@am.example/prefix/')).toEqual({ url: 'https://am.example/prefix/api/v2/alerts', headers: { authorization: `Basic ${Buffer.from('ops:p@ss').toString('base64')}` } });
  });

  it('sends an alert in the API v2 shape, endsAt only when known', () => {
    const a = { fingerprint: 'f', labels: { alertname: 'A' }, annotations: { s: '1' }, startsAt: Date.UTC(2024, 0, 1), endsAt: 0, generatorURL: 'g', updatedAt: 0 };
    expect(postableAlert(a)).toEqual({ labels: { alertname: 'A' }, annotations: { s: '1' }, startsAt: '2024-01-01T00:00:00.000Z', generatorURL: 'g' });
    expect(postableAlert({ ...a, endsAt: Date.UTC(2024, 0, 2) }).endsAt).toBe('2024-01-02T00:00:00.000Z');
  });
});
