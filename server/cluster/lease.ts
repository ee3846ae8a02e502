import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../alerting/clock.js';
import { param, raw, sql, type Store } from '../store/index.js';
import { currentTopology, topologyStatements } from '../store/topology.js';

/**
 * A lease in ClickHouse Keeper through a KeeperMap table, in strict mode
 * (`keeper_map_strict_mode = 1`): an INSERT of a key that exists fails, and an UPDATE applies
 * only if the key did not change between its read and its write (Keeper's node version).
 *
 * - acquire: INSERT (name, me, token 1, expires); exactly one of several racing nodes succeeds.
 * - renew: UPDATE expires WHERE holder = me AND token = mine.
 * - take over an expired lease: UPDATE holder = me, token = token + 1 WHERE holder = old AND
 *   token = old token. The token rises with every change of holder: it is the fencing token.
 * A strict UPDATE whose WHERE matches nothing answers OK, and an error may hide a write that
 * landed, so every attempt ends by reading the row back: the row, not the answer, says who holds.
 *
 * Expiry is judged on the reader's clock against the holder's; clocks must agree to well within
 * the TTL (NTP). A holder stops acting as soon as its own view of the lease's end passes, before
 * anyone else may take it over.
 */
const LEASE_TABLE = 'metronome_lease';

export interface LeaseRow {
  holder: string;
  token: number;
  expires: number;
}

/** A Keeper path made of our own names (database identifiers), checked before it is written into DDL. */
export function keeperPath(path: string): string {
  if (!/^(\/[A-Za-z0-9_]+)+$/.test(path)) throw new Error(`not a plain Keeper path: ${JSON.stringify(path)}`);
  return path;
}

/** The KeeperMap table of leases; `path` is its Keeper path, one per Metronome database. */
export async function ensureLeaseTable(store: Store, path: string): Promise<void> {
  // ON CLUSTER on a cluster: every server's table is the same Keeper path.
  const [create] = topologyStatements(
    [`CREATE TABLE IF NOT EXISTS ${LEASE_TABLE} (name String, holder String, token UInt64, expires Int64)
    ENGINE = KeeperMap('${keeperPath(path)}') PRIMARY KEY name`],
    currentTopology(),
  );
  await store.command(raw(create));
}

const STRICT = { keeper_map_strict_mode: 1 } as const;

export interface LeaseOptions {
  store: Store;
  /** The key: one lease per name ('leader', 'migrate'). */
  name: string;
  /** This node's identity in the row. */
  node: string;
  ttlMs: number;
  renewMs: number;
  clock: Clock;
  log?: Logger;
  /** Told on every change: held or not, and the fencing token while held. */
  onChange?: (held: boolean, token: number) => void | Promise<void>;
}

export class Lease {
  #held = false;
  #token = 0;
  /** Until when this node may act as holder, on its own clock. */
  #until = 0;
  #timer: TimerHandle | null = null;
  #running = false;
  #ticking: Promise<void> | null = null;

  constructor(readonly opts: LeaseOptions) {}

  /** True while this node holds the lease and its term has not passed on its own clock. */
  get held(): boolean {
    return this.#held && this.opts.clock.now() < this.#until;
  }

  /** The fencing token of the current term (0 if never held). */
  get token(): number {
    return this.#token;
  }

  async read(): Promise<LeaseRow | null> {
    const rows = await this.opts.store.query<{ holder: string; token: string | number; expires: string | number }>(
      sql`SELECT holder, token, expires FROM ${raw(LEASE_TABLE)} WHERE name = ${param('String', this.opts.name)}`,
    );
    return rows[0] ? { holder: rows[0].holder, token: Number(rows[0].token), expires: Number(rows[0].expires) } : null;
  }

  /** One attempt to acquire, renew or take over; returns whether this node holds the lease now. */
  async tick(): Promise<boolean> {
    const { store, name, node, ttlMs, clock } = this.opts;
    const now = clock.now();
    const expires = now + ttlMs;
    let row: LeaseRow | null;
    try {
      row = await this.read();
      if (!row) {
        await store.command(
          sql`INSERT INTO ${raw(LEASE_TABLE)} (name, holder, token, expires) VALUES (${param('String', name)}, ${param('String', node)}, 1, ${param('Int64', expires)})`,
          { settings: STRICT },
        );
      } else if (row.holder === node && row.token === this.#token && this.#held) {
        await store.command(
          sql`ALTER TABLE ${raw(LEASE_TABLE)} UPDATE expires = ${param('Int64', expires)}
              WHERE name = ${param('String', name)} AND holder = ${param('String', node)} AND token = ${param('UInt64', row.token)}`,
          { settings: STRICT },
        );
      } else if (row.expires <= now) {
        await store.command(
          sql`ALTER TABLE ${raw(LEASE_TABLE)} UPDATE holder = ${param('String', node)}, token = ${param('UInt64', row.token + 1)}, expires = ${param('Int64', expires)}
              WHERE name = ${param('String', name)} AND holder = ${param('String', row.holder)} AND token = ${param('UInt64', row.token)}`,
          { settings: STRICT },
        );
      }
    } catch (err) {
      // Lost a race (Node exists, Bad version) or an ambiguous failure: the read-back decides.
      this.opts.log?.debug({ err, lease: name }, 'lease attempt failed; reading back');
    }
    let after: LeaseRow | null = null;
    try {
      after = await this.read();
    } catch (err) {
      this.opts.log?.warn({ err, lease: name }, 'lease read-back failed');
    }
    const won = !!after && after.holder === node && after.expires === expires;
    await this.#set(won, won ? after!.token : this.#token, won ? now + ttlMs : 0);
    return won;
  }

  async #set(held: boolean, token: number, until: number): Promise<void> {
    const changed = held !== this.#held || token !== this.#token;
    this.#held = held;
    this.#token = token;
    this.#until = until;
    if (changed) {
      this.opts.log?.info({ lease: this.opts.name, node: this.opts.node, held, token }, held ? 'lease acquired' : 'lease lost');
      await this.opts.onChange?.(held, token);
    }
  }

  /** Try now, then every renewMs on the clock until stop(). */
  start(): Promise<boolean> {
    this.#running = true;
    const first = this.#run();
    return first.then(() => this.held);
  }

  async #run(): Promise<void> {
    if (!this.#running) return;
    this.#ticking = this.tick().then(
      () => undefined,
      (err) => this.opts.log?.warn({ err }, 'lease tick failed'),
    );
    await this.#ticking;
    this.#ticking = null;
    if (this.#running) this.#timer = this.opts.clock.setTimeout(() => this.#run(), this.opts.renewMs);
  }

  /** Stop renewing; when `release`, give the lease up so another node takes it at once. */
  async stop(release = true): Promise<void> {
    this.#running = false;
    if (this.#timer) this.opts.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#ticking;
    if (release && this.#held) {
      try {
        await this.opts.store.command(
          sql`ALTER TABLE ${raw(LEASE_TABLE)} UPDATE expires = 0
              WHERE name = ${param('String', this.opts.name)} AND holder = ${param('String', this.opts.node)} AND token = ${param('UInt64', this.#token)}`,
          { settings: STRICT },
        );
      } catch (err) {
        this.opts.log?.warn({ err }, 'lease release failed; it expires on its own');
      }
      await this.#set(false, this.#token, 0);
    }
  }
}
