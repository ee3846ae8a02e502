import type { IncomingHttpHeaders } from 'node:http';

/**
 * The token a client presented, in the forms real clients send:
 * - `Authorization: Bearer <token>` (Prometheus `authorization`/`bearer_token`, Grafana, curl),
 * - `Authorization: Basic base64(user:token)` (Prometheus remote_write `basic_auth`, Influx 1.x
 *   clients): the password is the token (the user name is ignored, or used when the password is empty),
 * - `Authorization: Token <token>` (Influx 2.x clients, Telegraf outputs.influxdb_v2),
 * - `?u=<user>&p=<token>` query parameters (Influx 1.x line-protocol clients), on the routes
 *   that speak that protocol only (`inQuery`): a token in a URL ends up in logs and histories.
 */
export type Presented = { kind: 'none' } | { kind: 'malformed'; scheme: string } | { kind: 'token'; token: string; via: string };

export function presentedToken(headers: IncomingHttpHeaders, url: string, inQuery = false): Presented {
  const h = headers.authorization;
  if (typeof h === 'string' && h.length > 0) {
    const space = h.indexOf(' ');
    const scheme = (space < 0 ? h : h.slice(0, space)).toLowerCase();
    const rest = space < 0 ? '' : h.slice(space + 1).trim();
    if (scheme === 'bearer' || scheme === 'token') {
      return rest ? { kind: 'token', token: rest, via: scheme } : { kind: 'malformed', scheme };
    }
    if (scheme === 'basic') {
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { kind: 'malformed', scheme };
      const user = decoded.slice(0, colon);
      const pass = decoded.slice(colon + 1);
      const token = pass || user;
      return token ? { kind: 'token', token, via: 'basic' } : { kind: 'malformed', scheme };
    }
    return { kind: 'malformed', scheme: scheme.slice(0, 20) };
  }
  const q = url.indexOf('?');
  if (inQuery && q >= 0 && url.includes('p=', q)) {
    const p = new URLSearchParams(url.slice(q + 1)).get('p');
    if (p) return { kind: 'token', token: p, via: 'query' };
  }
  return { kind: 'none' };
}
