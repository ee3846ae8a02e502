/**
 * Credentials in the notification config are never shown: reading the config gives `<secret>`
 * for each of them, to every reader, as Alertmanager's /api/v2/status does. A config sent back
 * with `<secret>` keeps the stored value at the same place (receivers are matched by name, so
 * reordering them keeps their secrets).
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { Issue } from '../errors.js';
import { SECRET_MASK } from './receivers/secret.js';

/** Fields that hold a credential wherever they appear. */
const SECRET_KEYS = new Set([
  'password',
  'auth_password',
  'auth_secret',
  'bearer_token',
  'credentials',
  'api_key',
  'routing_key',
  'service_key',
  'bot_token',
  'token',
  'app_token',
  'client_secret',
  'user_key',
  'api_secret',
  'webhook_url',
  'smtp_auth_password',
  'smtp_auth_secret',
  'opsgenie_api_key',
  'slack_api_url',
  'victorops_api_key',
  'wechat_api_secret',
  'telegram_bot_token',
]);
/** Fields that hold a credential under one kind of config (the URL embeds the token). */
const SECRET_IN: Record<string, string> = { url: 'webhook_configs', api_url: 'slack_configs' };

type Visit = (path: string, key: string, parentKey: string, node: Node) => void;

/** Walk every scalar value of the mapping tree with a path that names receivers by name. */
function walk(node: unknown, path: string, parentKey: string, visit: Visit): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const p = `${path}.${k}`;
      if (isScalar(pair.value)) visit(p, k, parentKey, pair.value);
      else walk(pair.value, p, k, visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      let seg = `[${i}]`;
      if (path === '.receivers' && isMap(item)) {
        const name = item.get('name');
        if (typeof name === 'string') seg = `[name=${name}]`;
      }
      walk(item, `${path}${seg}`, parentKey, visit);
    });
  }
}

const isSecret = (key: string, parentKey: string) => SECRET_KEYS.has(key) || SECRET_IN[key] === parentKey;

function secretsOf(doc: Document): Map<string, unknown> {
  const out = new Map<string, unknown>();
  walk(doc.contents, '', '', (path, key, parentKey, node) => {
    if (isSecret(key, parentKey) && isScalar(node)) out.set(path, node.value);
  });
  return out;
}

/** The config text with every credential replaced by `<secret>` (comments and layout kept). */
export function maskSecrets(yaml: string): string {
  const doc = parseDocument(yaml);
  if (doc.errors.length) return '';
  let changed = false;
  walk(doc.contents, '', '', (_p, key, parentKey, node) => {
    if (isSecret(key, parentKey) && isScalar(node) && node.value !== null && node.value !== '') {
      node.value = SECRET_MASK;
      changed = true;
    }
  });
  return changed ? doc.toString() : yaml;
}

/**
 * Put the stored credentials back where a new config says `<secret>`. Returns the text to parse
 * and store, or the places that say `<secret>` with no stored value behind them.
 */
export function restoreSecrets(yaml: string, stored: string): { yaml: string; problems: Issue[] } {
  if (!yaml.includes(SECRET_MASK)) return { yaml, problems: [] };
  const doc = parseDocument(yaml);
  if (doc.errors.length) return { yaml, problems: [] };
  const old = secretsOf(parseDocument(stored));
  const problems: Issue[] = [];
  walk(doc.contents, '', '', (path, key, parentKey, node) => {
    if (!isScalar(node) || node.value !== SECRET_MASK) return;
    const prev = old.get(path);
    if (isSecret(key, parentKey) && prev !== undefined && prev !== SECRET_MASK) node.value = prev;
    else problems.push({ path: path.slice(1), message: `"${SECRET_MASK}" keeps a stored credential, but there is none at this place: give the value` });
  });
  return { yaml: doc.toString(), problems };
}
