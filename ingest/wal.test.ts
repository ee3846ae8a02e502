import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planReplay, RecordType, Wal } from './wal.js';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'metronome-wal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const segments = (d: string) => readdirSync(d).filter((n) => n.endsWith('.log')).sort();

/** A fresh log in `d` (nothing to replay), ready to append. */
function fresh(d: string, segmentBytes?: number): Wal {
  const { wal, records } = Wal.open(d, { segmentBytes });
  expect(records).toEqual([]);
  wal.reset(1);
  return wal;
}

describe('write-ahead log', () => {
  it('gives back every record in order after a restart, bodies byte for byte', () => {
    const d = dir();
    const wal = fresh(d);
    wal.appendItem(1, [bytes('ab'), bytes('cd')]);
    wal.appendItem(2, [bytes('')]);
    wal.appendDone(2);
    wal.appendItem(3, [bytes('e')]);
    wal.close();
    const { records } = Wal.open(d);
    expect(records.map((r) => [r.type, r.seq, r.body.toString()])).toEqual([
      [RecordType.Item, 1, 'abcd'],
      [RecordType.Item, 2, ''],
      [RecordType.Done, 2, ''],
      [RecordType.Item, 3, 'e'],
    ]);
  });

  it('ends the replay at a record torn by a crash, whether cut short or followed by garbage', () => {
    const d = dir();
    const wal = fresh(d);
    wal.appendItem(1, [bytes('first')]);
    wal.appendItem(2, [bytes('second record')]);
    wal.close();
    const [seg] = segments(d);
    const full = statSync(join(d, seg)).size;
    truncateSync(join(d, seg), full - 3);
    expect(Wal.open(d).records.map((r) => r.seq)).toEqual([1]);
    appendFileSync(join(d, seg), 'not a record, whatever a dying write left');
    expect(Wal.open(d).records.map((r) => r.seq)).toEqual([1]);
  });

  it('plans a replay: the items after the last done record, in order', () => {
    const d = dir();
    const wal = fresh(d);
    for (let s = 1; s <= 3; s++) wal.appendItem(s, [bytes(`i${s}`)]);
    wal.appendDone(1);
    wal.appendDone(2);
    wal.appendItem(4, [bytes('i4')]);
    wal.close();
    const plan = planReplay(Wal.open(d).records);
    expect(plan.items.map((i) => i.body.toString())).toEqual(['i3', 'i4']);
    expect(plan.nextSeq).toBe(5);
  });

  it('deletes a segment once every item in it is done and a newer one exists', () => {
    const d = dir();
    const wal = fresh(d, 64); // every item starts a new segment once one holds 64 bytes
    const body = [new Uint8Array(100)];
    wal.appendItem(1, body);
    wal.appendItem(2, body);
    wal.appendItem(3, body);
    expect(segments(d)).toHaveLength(3);
    wal.appendDone(2);
    expect(segments(d)).toHaveLength(1); // items 1 and 2's segments; item 3's is being written
    expect(planReplay(Wal.open(d).records).items.map((i) => i.seq)).toEqual([3]);
    wal.reset(4);
    expect(segments(d)).toEqual(['0000000000000004.log']);
    wal.close();
    expect(Wal.open(d).records).toEqual([]);
  });
});
