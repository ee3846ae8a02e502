import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { WORDING } from './wording.js';

const messages = (schema: z.ZodType, input: unknown) => {
  const r = schema.safeParse(input, WORDING);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('validation wording', () => {
  it("replaces zod's default messages with what the field must be", () => {
    const s = z.strictObject({
      name: z.string().min(1),
      short: z.string().max(3),
      list: z.array(z.string()).min(1),
      mode: z.enum(['ok', 'alerting']),
      n: z.number().int().min(0),
      flag: z.boolean(),
    });
    expect(messages(s, { name: '', short: 'abcd', list: [], mode: 'x', n: -1, flag: 'yes', extra: 1 })).toEqual([
      'name: must not be empty',
      'short: must be at most 3 characters long',
      'list: needs at least one entry',
      'mode: must be one of "ok" or "alerting", not the text "x"',
      'n: must be at least 0',
      'flag: must be true or false, not the text "yes"',
      ': unknown field "extra"',
    ]);
    expect(messages(s, {})[0]).toBe('name: is required');
    expect(messages(z.object({ x: z.string() }), { x: 5 })).toEqual(['x: must be text, not the number 5']);
  });

  it("keeps a schema's own message", () => {
    expect(messages(z.number().max(1, 'must be a fraction below 1'), 2)).toEqual([': must be a fraction below 1']);
  });
});
