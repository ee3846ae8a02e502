import { describe, expect, it } from 'vitest';
import { clickHouseCode } from './store-health.js';

/** The remote client's error: code and type as fields, the message without "Code: N" (its parseError). */
function remoteError(code: string, type: string, message: string): Error {
  return Object.assign(new Error(message), { code, type });
}

describe('clickHouseCode', () => {
  it('reads the code chdb gives only in the message', () => {
    expect(clickHouseCode(new Error('Code: 159. DB::Exception: Timeout exceeded: elapsed 1.2 seconds. (TIMEOUT_EXCEEDED)'))).toBe(159);
  });

  it('reads the remote client\'s code field, whose message does not repeat it', () => {
    expect(clickHouseCode(remoteError('241', 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (for query) exceeded. '))).toBe(241);
  });

  it('answers 0 for a ClickHouse error without a readable code, null for any other error', () => {
    expect(clickHouseCode(Object.assign(new Error('odd'), { type: 'UNKNOWN' }))).toBe(0);
    expect(clickHouseCode(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(clickHouseCode('Code: 159')).toBeNull();
  });
});
