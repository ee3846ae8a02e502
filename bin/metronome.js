#!/usr/bin/env node
// @ts-check
/**
 * metronome: command-line checks against a running Metronome, for CI.
 *
 *   npx metronome check <service> [--min 80] [--url http://127.0.0.1:8080] [--json]
 *
 * Prints the service's golden-path scorecard (GET /api/v1/services/<service>/scorecard) and exits
 * 0 when the score is at least --min, 1 below it, 2 when the scorecard could not be read. The URL
 * and token also come from METRONOME_URL and METRONOME_TOKEN (a read token is enough).
 * Plain JavaScript, so it runs straight after `npm install`, without a build.
 */

const USAGE = 'usage: metronome check <service> [--min <0-100>] [--url <metronome url>] [--json]';

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ cmd?: string, service?: string, min: number, url: string, json: boolean }} */
  const out = { min: 80, url: process.env.METRONOME_URL || 'http://127.0.0.1:8080', json: false };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--min') {
      out.min = Number(value());
      if (!(out.min >= 0 && out.min <= 100)) throw new Error('--min must be a number from 0 to 100');
    } else if (flag === '--url') out.url = value();
    else if (flag === '--json') out.json = true;
    else if (flag === '--help' || flag === '-h') throw new Error(USAGE);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else rest.push(a);
  }
  [out.cmd, out.service] = rest;
  if (out.cmd !== 'check' || !out.service || rest.length > 2) throw new Error(USAGE);
  return out;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${/** @type {Error} */ (e).message}\n`);
    return 2;
  }
  const url = `${args.url.replace(/\/$/, '')}/api/v1/services/${encodeURIComponent(args.service ?? '')}/scorecard`;
  const token = process.env.METRONOME_TOKEN;
  let res;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    process.stderr.write(`metronome: cannot reach ${args.url}: ${/** @type {Error} */ (e).cause ?? /** @type {Error} */ (e).message}\n`);
    return 2;
  }
  const text = await res.text();
  /** @type {any} */
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (res.status !== 200 || !body?.data) {
    process.stderr.write(`metronome: ${url} answered ${res.status}: ${body?.error?.message ?? text.slice(0, 300)}\n`);
    return 2;
  }
  /** @type {{ service: string, score: number, checks: { name: string, ok: boolean, detail: string, fix: string }[] }} */
  const card = body.data;
  const pass = card.score >= args.min;
  if (args.json) process.stdout.write(`${JSON.stringify({ ...card, min: args.min, pass })}\n`);
  else {
    const width = Math.max(...card.checks.map((c) => c.name.length));
    const lines = [`${card.service}: golden-path score ${card.score}/100 (minimum ${args.min}) ${pass ? 'PASS' : 'FAIL'}`];
    for (const c of card.checks) {
      lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
      if (!c.ok && c.fix) lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return pass ? 0 : 1;
}

main().then((code) => process.exit(code));
