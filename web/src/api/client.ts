/**
 * HTTP to the Metronome server: the only way the UI reaches data. Errors come back in two
 * shapes (Metronome's {error:{code,message}} and Prometheus' {status:'error',errorType,error});
 * both become an ApiError.
 */

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    /** 0-based character position in a PromQL expression, when the server reports one. */
    readonly position?: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A refusal as text: one `path: message` line per issue the server listed, else its message. */
export function issueLines(e: unknown): string {
  const issues = e instanceof ApiError ? (e.details?.issues as { path: string; message: string }[] | undefined) : undefined;
  return issues ? issues.map((i) => `${i.path}: ${i.message}`).join('\n') : (e as Error).message;
}

type Params = Record<string, string | number | undefined | (string | number)[]>;

function buildUrl(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: any = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    if (!res.ok) throw new ApiError(text.slice(0, 300) || res.statusText, res.status);
    throw new ApiError('the server sent a response that is not JSON', res.status);
  }
  if (!res.ok || body?.status === 'error') {
    const e = body?.error;
    if (e && typeof e === 'object') throw new ApiError(e.message ?? res.statusText, res.status, e.code, numberOr(e.position), e);
    const msg = typeof e === 'string' ? e : res.statusText || `HTTP ${res.status}`;
    throw new ApiError(msg, res.status, body?.code ?? body?.errorType, numberOr(body?.position) ?? positionFromMessage(msg), body);
  }
  return body as T;
}

function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The 0-based position a PromQL error points at: Metronome writes "at position 14"; Prometheus
 * writes "1:15: parse error" (line:column, 1-based).
 */
function positionFromMessage(msg: string): number | undefined {
  const ours = /\bat position (\d+)\b/.exec(msg);
  if (ours) return Number(ours[1]);
  const m = /(?:^|\s)(\d+):(\d+):\s/.exec(msg);
  if (!m || m[1] !== '1') return undefined;
  return Number(m[2]) - 1;
}

// Access control (server/auth): reads send the stored read token; a change the server refuses
// (401/403) asks once for an admin token and is retried with it. Both stay in localStorage.
// Concurrent requests share one prompt per kind, and a request refused before the prompt stored
// its token retries with that token without asking again.
const READ_TOKEN = 'metronome.token';
const ADMIN_TOKEN = 'metronome.adminToken';
const asking = new Map<string, Promise<string | null>>();

function storedToken(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function askToken(key: string, message: string): Promise<string | null> {
  let p = asking.get(key);
  if (!p) {
    p = Promise.resolve()
      .then(() => {
        const t = window.prompt(message)?.trim() || null;
        if (t) {
          try {
            localStorage.setItem(key, t);
          } catch {
            /* kept for this request only */
          }
        }
        return t;
      })
      .finally(() => asking.delete(key));
    asking.set(key, p);
  }
  return p;
}

const bearer = (token: string | null): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

export async function getJSON<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  const url = buildUrl(path, params);
  const get = (token: string | null) => fetch(url, { signal, headers: { accept: 'application/json', ...bearer(token) } });
  const used = storedToken(READ_TOKEN) ?? storedToken(ADMIN_TOKEN);
  let res = await get(used);
  if (res.status === 401 && !signal?.aborted) {
    // A request sent before another one's prompt stored a token retries with it, unasked.
    const now = storedToken(READ_TOKEN) ?? storedToken(ADMIN_TOKEN);
    const token = now && now !== used ? now : await askToken(READ_TOKEN, 'This Metronome needs an API token to show data (a token with the read scope):');
    if (token) res = await get(token);
  }
  return parse<T>(res);
}

export async function sendJSON<T>(method: 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const send = (token: string | null) =>
    fetch(path, {
      method,
      signal,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...bearer(token) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const used = storedToken(ADMIN_TOKEN) ?? storedToken(READ_TOKEN);
  let res = await send(used);
  if ((res.status === 401 || res.status === 403) && !signal?.aborted) {
    const now = storedToken(ADMIN_TOKEN);
    const token = now && now !== used ? now : await askToken(ADMIN_TOKEN, 'Changes need an API token with the admin scope:');
    if (token) res = await send(token);
  }
  return parse<T>(res);
}

/** True for the error a superseded request throws when its AbortController fires. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}
