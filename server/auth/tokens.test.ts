import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config.js';
import { isLoopback } from './access.js';
import { presentedToken } from './credentials.js';
import { scopeFor } from './scopes.js';
import { parseCompactTokens, parseTokenList, TokenSet } from './tokens.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('tokens', () => {
  it('finds the principal of a token given in clear or as its sha256, and nothing for others', () => {
    const set = new TokenSet([
      { name: 'a', token: 'aaaaaaaaaaaaaaaa-1', scopes: ['write'], services: ['checkout'] },
      { name: 'b', sha256: sha('bbbbbbbbbbbbbbbb-2'), scopes: ['admin'] },
    ]);
    expect(set.verify('aaaaaaaaaaaaaaaa-1')).toMatchObject({ name: 'a', services: new Set(['checkout']) });
    const b = set.verify('bbbbbbbbbbbbbbbb-2')!;
    expect(b.name).toBe('b');
    expect([...b.scopes].sort()).toEqual(['admin', 'read']); // admin implies read
    expect(set.verify('aaaaaaaaaaaaaaaa-')).toBeNull();
    expect(set.verify('')).toBeNull();
  });

  it('refuses duplicate names and duplicate secrets', () => {
    expect(() => new TokenSet([{ name: 'x', token: 'xxxxxxxxxxxxxxxx', scopes: ['read'] }, { name: 'x', token: 'yyyyyyyyyyyyyyyy', scopes: ['read'] }])).toThrow(/used twice/);
    expect(() => new TokenSet([{ name: 'x', token: 'xxxxxxxxxxxxxxxx', scopes: ['read'] }, { name: 'y', sha256: sha('xxxxxxxxxxxxxxxx'), scopes: ['read'] }])).toThrow(/same secret/);
  });

  it('parses the YAML list, the {tokens: [...]} form and JSON, naming the bad entry', () => {
    expect(parseTokenList('- {name: a, token: aaaaaaaaaaaaaaaa, scopes: [read]}', 'f.yml')).toHaveLength(1);
    expect(parseTokenList('{"tokens": [{"name": "a", "token": "aaaaaaaaaaaaaaaa", "scopes": ["read"]}]}', 'f.json')).toHaveLength(1);
    expect(() => parseTokenList('- {name: a, token: short, scopes: [read]}', 'f.yml')).toThrow(/^auth: f\.yml: 0\.token: must be at least 16 characters/);
    expect(() => parseTokenList('- {name: a, token: aaaaaaaaaaaaaaaa, sha256: ' + sha('x') + ', scopes: [read]}', 'f.yml')).toThrow(/exactly one of token and sha256/);
    expect(() => parseTokenList('- {name: a, token: aaaaaaaaaaaaaaaa, scopes: [root]}', 'f.yml')).toThrow(/0\.scopes\.0/);
    expect(() => parseTokenList('- {name: a, token: aaaaaaaaaaaaaaaa, scopes: [read], extra: 1}', 'f.yml')).toThrow(ConfigError);
    expect(() => parseTokenList('a: [', 'f.yml')).toThrow(/^auth: f\.yml: /);
  });

  it('parses the compact AUTH_TOKENS form with scopes and services', () => {
    expect(parseCompactTokens('ci:cccccccccccccccc:write:checkout|payments, ro:rrrrrrrrrrrrrrrr:read+write')).toEqual([
      { name: 'ci', token: 'cccccccccccccccc', scopes: ['write'], services: ['checkout', 'payments'] },
      { name: 'ro', token: 'rrrrrrrrrrrrrrrr', scopes: ['read', 'write'] },
    ]);
    expect(() => parseCompactTokens('ci:cccccccccccccccc')).toThrow(/entry 1: expected name:token:scopes/);
  });
});

describe('credentials', () => {
  const h = (authorization?: string) => (authorization === undefined ? {} : { authorization });
  it('reads Bearer, Token, Basic (password, else user) and the u/p parameters', () => {
    expect(presentedToken(h('Bearer abc'), '/x')).toEqual({ kind: 'token', token: 'abc', via: 'bearer' });
    expect(presentedToken(h('token abc'), '/x')).toEqual({ kind: 'token', token: 'abc', via: 'token' });
    const basic = (s: string) => h(`Basic ${Buffer.from(s).toString('base64')}`);
    expect(presentedToken(basic('prom:secret:with:colons'), '/x')).toEqual({ kind: 'token', token: 'secret:with:colons', via: 'basic' });
    expect(presentedToken(basic('onlyuser:'), '/x')).toEqual({ kind: 'token', token: 'onlyuser', via: 'basic' });
    expect(presentedToken(h(), '/influx/write?db=x&u=me&p=s3cret', true)).toEqual({ kind: 'token', token: 's3cret', via: 'query' });
    // Only where the route speaks Influx 1.x: elsewhere a token in the URL is not one.
    expect(presentedToken(h(), '/api/v1/query?query=up&p=s3cret')).toEqual({ kind: 'none' });
    expect(presentedToken(h(), '/influx/write?db=x')).toEqual({ kind: 'none' });
  });
  it('calls an empty or unknown scheme malformed rather than absent', () => {
    expect(presentedToken(h('Bearer'), '/x')).toMatchObject({ kind: 'malformed' });
    expect(presentedToken(h('Digest x=1'), '/x')).toMatchObject({ kind: 'malformed', scheme: 'digest' });
    expect(presentedToken(h(`Basic ${Buffer.from('nocolon').toString('base64')}`), '/x')).toMatchObject({ kind: 'malformed' });
  });
});

describe('scopes', () => {
  it('maps routes to scopes, and unlisted routes to read for GET and admin otherwise', () => {
    expect(scopeFor('GET', '/healthz')).toBe('open');
    expect(scopeFor('POST', '/api/v1/write')).toBe('write');
    expect(scopeFor('POST', '/api/v1/query')).toBe('read');
    expect(scopeFor('GET', '/api/v1/silences')).toBe('read');
    expect(scopeFor('POST', '/api/v1/silences')).toBe('admin');
    expect(scopeFor('GET', '/*')).toBe('open');
    expect(scopeFor('POST', '/*')).toBe('admin');
    expect(scopeFor('GET', '/api/v1/some/new/route')).toBe('read');
    expect(scopeFor('DELETE', '/api/v1/some/new/route')).toBe('admin');
    expect(scopeFor('POST', undefined)).toBe('admin');
  });
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'example.com', '128.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });
});
