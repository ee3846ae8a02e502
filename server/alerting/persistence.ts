/**
 * Alerting's tables in ClickHouse (schema/004_alerting.sql): API objects, alert state, history,
 * silences and the notification log. Versioned rows, read newest first; writes are batched by
 * the callers (one insert per evaluation, not per alert).
 */
import { param, raw, sql, type Store } from '../store/index.js';
import { chTime, chTimeMs } from '../store/store.js';
import type { Labels, LabelMatcher } from './labels.js';
import type { Alert, Transition } from './state.js';

export type ObjectKind = 'rule' | 'slo' | 'notify_config';

export interface StoredObject {
  id: string;
  body: string;
  updatedAt: number;
}

export interface SavedAlert extends Alert {
  ruleId: string;
  groupKey: string;
  evaluatedAt: number;
}

export interface HistoryRow extends Transition {
  ruleId: string;
  ruleName: string;
  groupKey: string;
}

export interface Silence {
  id: string;
  matchers: LabelMatcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  updatedAt: number;
}

export interface NflogEntry {
  receiver: string;
  groupKey: string;
  firing: string[];
  resolved: string[];
  sentAt: number;
}

let lastVersion = 0;
/** Strictly increasing row versions within the process, near wall-clock microseconds across restarts. */
function nextVersion(): bigint {
  lastVersion = Math.max(Date.now() * 1000, lastVersion + 1);
  return BigInt(lastVersion);
}

const ms = (v: string | number): number => (typeof v === 'number' ? v : chTimeMs(v));
const num = (v: number | null): number => (v === null ? NaN : v);
/** JSON has no NaN or Inf: those are stored as NULL. */
const nullable = (v: number): number | null => (Number.isFinite(v) ? v : null);

export class AlertingStore {
  constructor(readonly store: Store) {}

  async listObjects(kind: ObjectKind): Promise<StoredObject[]> {
    const rows = await this.store.query<{ id: string; body: string; deleted: number; updated_at: string }>(sql`
      SELECT id, body, deleted, updated_at FROM alerting_objects
      WHERE kind = ${param('String', kind)}
      ORDER BY id, version DESC LIMIT 1 BY id`);
    return rows.filter((r) => Number(r.deleted) === 0).map((r) => ({ id: r.id, body: r.body, updatedAt: ms(r.updated_at) }));
  }

  async putObject(kind: ObjectKind, id: string, body: unknown, now = Date.now()): Promise<void> {
    await this.store.insertRows('alerting_objects', [
      { kind, id, version: nextVersion().toString(), deleted: 0, body: typeof body === 'string' ? body : JSON.stringify(body), updated_at: chTime(now) },
    ]);
  }

  async deleteObject(kind: ObjectKind, id: string, now = Date.now()): Promise<void> {
    await this.store.insertRows('alerting_objects', [{ kind, id, version: nextVersion().toString(), deleted: 1, body: '', updated_at: chTime(now) }]);
  }

  /** The saved alerts of every rule, newest version of each. */
  async loadAlerts(): Promise<SavedAlert[]> {
    const rows = await this.store.query<{
      rule_id: string;
      fingerprint: string;
      deleted: number;
      group_key: string;
      labels: Labels;
      annotations: Labels;
      state: string;
      reason: string;
      value: number | null;
      active_at: string;
      fired_at: string;
      resolved_at: string;
      keep_firing_since: string;
      evaluated_at: string;
    }>(sql`
      SELECT * EXCEPT version FROM alert_state
      ORDER BY rule_id, fingerprint, version DESC LIMIT 1 BY rule_id, fingerprint`);
    return rows
      .filter((r) => Number(r.deleted) === 0)
      .map((r) => ({
        ruleId: r.rule_id,
        groupKey: r.group_key,
        fingerprint: r.fingerprint,
        labels: r.labels,
        annotations: r.annotations,
        state: r.state as Alert['state'],
        reason: (r.reason || undefined) as Alert['reason'],
        value: num(r.value),
        activeAt: ms(r.active_at),
        firedAt: ms(r.fired_at),
        resolvedAt: ms(r.resolved_at),
        keepFiringSince: ms(r.keep_firing_since),
        evaluatedAt: ms(r.evaluated_at),
      }));
  }

  async saveAlerts(rows: readonly SavedAlert[], deleted: readonly { ruleId: string; fingerprint: string; groupKey: string; evaluatedAt: number }[] = []): Promise<void> {
    if (rows.length === 0 && deleted.length === 0) return;
    const out: Record<string, unknown>[] = rows.map((a) => ({
      rule_id: a.ruleId,
      fingerprint: a.fingerprint,
      version: nextVersion().toString(),
      deleted: 0,
      group_key: a.groupKey,
      labels: a.labels,
      annotations: a.annotations,
      state: a.state,
      reason: a.reason ?? '',
      value: nullable(a.value),
      active_at: chTime(a.activeAt),
      fired_at: chTime(a.firedAt),
      resolved_at: chTime(a.resolvedAt),
      keep_firing_since: chTime(a.keepFiringSince),
      evaluated_at: chTime(a.evaluatedAt),
    }));
    for (const d of deleted) {
      out.push({
        rule_id: d.ruleId,
        fingerprint: d.fingerprint,
        version: nextVersion().toString(),
        deleted: 1,
        group_key: d.groupKey,
        labels: {},
        annotations: {},
        state: 'inactive',
        reason: '',
        value: null,
        active_at: chTime(0),
        fired_at: chTime(0),
        resolved_at: chTime(0),
        keep_firing_since: chTime(0),
        evaluated_at: chTime(d.evaluatedAt),
      });
    }
    await this.store.insertRows('alert_state', out);
  }

  async appendHistory(rows: readonly HistoryRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.store.insertRows(
      'alert_history',
      rows.map((r) => ({
        ts: chTime(r.ts),
        rule_id: r.ruleId,
        rule_name: r.ruleName,
        group_key: r.groupKey,
        fingerprint: r.fingerprint,
        labels: r.labels,
        annotations: r.annotations,
        from_state: r.from,
        to_state: r.to,
        value: nullable(r.value),
      })),
    );
  }

  async queryHistory(f: { start?: number; end?: number; alertname?: string; ruleId?: string; fingerprint?: string; state?: string; limit: number }): Promise<HistoryRow[]> {
    const where = [raw('1')];
    if (f.start !== undefined) where.push(sql`ts >= fromUnixTimestamp64Milli(${param('Int64', Math.floor(f.start))}, 'UTC')`);
    if (f.end !== undefined) where.push(sql`ts <= fromUnixTimestamp64Milli(${param('Int64', Math.ceil(f.end))}, 'UTC')`);
    if (f.alertname !== undefined) where.push(sql`labels['alertname'] = ${param('String', f.alertname)}`);
    if (f.ruleId !== undefined) where.push(sql`rule_id = ${param('String', f.ruleId)}`);
    if (f.fingerprint !== undefined) where.push(sql`fingerprint = ${param('String', f.fingerprint)}`);
    if (f.state !== undefined) where.push(sql`to_state = ${param('String', f.state)}`);
    const cond = where.reduce((a, b) => sql`${a} AND ${b}`);
    const rows = await this.store.query<{
      ts: string;
      rule_id: string;
      rule_name: string;
      group_key: string;
      fingerprint: string;
      labels: Labels;
      annotations: Labels;
      from_state: string;
      to_state: string;
      value: number | null;
    }>(sql`SELECT * FROM alert_history WHERE ${cond} ORDER BY ts DESC, fingerprint LIMIT ${param('UInt64', BigInt(f.limit))}`);
    return rows.map((r) => ({
      ts: ms(r.ts),
      ruleId: r.rule_id,
      ruleName: r.rule_name,
      groupKey: r.group_key,
      fingerprint: r.fingerprint,
      labels: r.labels,
      annotations: r.annotations,
      from: r.from_state,
      to: r.to_state,
      value: num(r.value),
    }));
  }

  async listSilences(): Promise<Silence[]> {
    const rows = await this.store.query<{ id: string; matchers: string; starts_at: string; ends_at: string; created_by: string; comment: string; updated_at: string }>(sql`
      SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at FROM silences
      ORDER BY id, version DESC LIMIT 1 BY id`);
    return rows.map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.matchers) as LabelMatcher[],
      startsAt: ms(r.starts_at),
      endsAt: ms(r.ends_at),
      createdBy: r.created_by,
      comment: r.comment,
      updatedAt: ms(r.updated_at),
    }));
  }

  async putSilence(s: Silence): Promise<void> {
    await this.store.insertRows('silences', [
      {
        id: s.id,
        version: nextVersion().toString(),
        matchers: JSON.stringify(s.matchers),
        starts_at: chTime(s.startsAt),
        ends_at: chTime(s.endsAt),
        created_by: s.createdBy,
        comment: s.comment,
        updated_at: chTime(s.updatedAt),
      },
    ]);
  }

  async loadNflog(): Promise<NflogEntry[]> {
    const rows = await this.store.query<{ receiver: string; group_key: string; firing: string[]; resolved: string[]; sent_at: string }>(sql`
      SELECT receiver, group_key, firing, resolved, sent_at FROM notification_log
      ORDER BY receiver, group_key, version DESC LIMIT 1 BY receiver, group_key`);
    return rows.map((r) => ({ receiver: r.receiver, groupKey: r.group_key, firing: r.firing, resolved: r.resolved, sentAt: ms(r.sent_at) }));
  }

  async putNflog(e: NflogEntry): Promise<void> {
    await this.store.insertRows('notification_log', [
      { receiver: e.receiver, group_key: e.groupKey, version: nextVersion().toString(), firing: e.firing, resolved: e.resolved, sent_at: chTime(e.sentAt) },
    ]);
  }
}
