import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../alerting/clock.js';
import { param, raw, sql, type Store } from '../store/index.js';
import { currentTopology, topologyStatements } from '../store/topology.js';
import { keeperPath } from './lease.js';

/**
 * Which nodes are alive: every node writes (node, seen) into a KeeperMap table every `everyMs`
 * and counts the rows seen within `liveMs`. Not strict mode: an INSERT of an existing key
 * overwrites it, which is what a heartbeat wants. A node that stops gracefully deletes its row,
 * so the others count one fewer at once; one that dies drops out after `liveMs`.
 *
 * What it is for: per-token rate limits split across live nodes (each allows rate / live), as
 * Mimir's distributors split theirs. Judged on each node's own clock, like the lease.
 */
const NODES_TABLE = 'metronome_nodes';

export async function ensureNodesTable(store: Store, path: string): Promise<void> {
  const [create] = topologyStatements(
    [`CREATE TABLE IF NOT EXISTS ${NODES_TABLE} (node String, seen Int64)
    ENGINE = KeeperMap('${keeperPath(path)}') PRIMARY KEY node`],
    currentTopology(),
  );
  await store.command(raw(create));
}

export interface HeartbeatOptions {
  store: Store;
  node: string;
  /** How often this node writes its row and counts the others. */
  everyMs: number;
  /** A row older than this is a node gone. */
  liveMs: number;
  clock: Clock;
  log?: Logger;
  /** Told the live count (this node included, so at least 1) after every beat. */
  onLive: (n: number) => void;
}

export class Heartbeat {
  #timer: TimerHandle | null = null;
  #running = false;
  #beating: Promise<void> | null = null;

  constructor(readonly opts: HeartbeatOptions) {}

  /** Write this node's row, then count the live ones. */
  async beat(): Promise<number> {
    const { store, node, clock, liveMs } = this.opts;
    const now = clock.now();
    // Not strict, said explicitly: an INSERT overwrites this node's row. (Before the embedded store
    // wrote settings into the statement, the lease's strict mode stayed on chdb's session and
    // every beat after the first failed with "Node exists".)
    await store.command(sql`INSERT INTO ${raw(NODES_TABLE)} (node, seen) VALUES (${param('String', node)}, ${param('Int64', now)})`, {
      settings: { keeper_map_strict_mode: 0 },
    });
    const [r] = await store.query<{ n: string | number }>(
      sql`SELECT count() AS n FROM ${raw(NODES_TABLE)} WHERE seen > ${param('Int64', now - liveMs)}`,
    );
    const live = Math.max(1, Number(r?.n ?? 1));
    this.opts.onLive(live);
    return live;
  }

  /** Beat now, then every everyMs until stop(). */
  async start(): Promise<void> {
    this.#running = true;
    await this.#run();
  }

  async #run(): Promise<void> {
    if (!this.#running) return;
    this.#beating = this.beat().then(
      () => undefined,
      // Keep the last count: a store hiccup should not make this node allow the whole rate.
      (err) => this.opts.log?.warn({ err }, 'heartbeat failed'),
    );
    await this.#beating;
    this.#beating = null;
    if (this.#running) this.#timer = this.opts.clock.setTimeout(() => this.#run(), this.opts.everyMs);
  }

  /** Stop beating and delete this node's row. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) this.opts.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#beating;
    try {
      await this.opts.store.command(sql`DELETE FROM ${raw(NODES_TABLE)} WHERE node = ${param('String', this.opts.node)}`);
    } catch (err) {
      this.opts.log?.warn({ err }, 'heartbeat row not deleted; it ages out');
    }
  }
}
