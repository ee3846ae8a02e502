import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/client.js';
import { genericField, issueSentence, refusal, ruleField, silenceField } from './wording.js';

const invalid = (issues: unknown[]) => new ApiError('the rule is invalid: …', 400, 'MTR_ALERT_RULE_INVALID', undefined, { code: 'MTR_ALERT_RULE_INVALID', issues });

describe('refusal wording', () => {
  it('words each issue as a sentence naming the field as the form labels it', () => {
    const err = invalid([
      { path: ['for'], message: 'invalid duration "5 minutes": use a Prometheus duration like 30s, 5m, 1h30m' },
      { path: ['group'], message: 'must not be empty' },
      { path: ['labels', 'bad-name'], message: 'invalid label name "bad-name"' },
      { path: ['annotations', 'summary'], message: 'unexpected "}" in operand' },
      { path: ['no_data_state'], message: 'must be one of "ok" or "alerting", not the text "x"' },
    ]);
    expect(refusal(err, ruleField)).toEqual([
      '"pending for": invalid duration "5 minutes": use a Prometheus duration like 30s, 5m, 1h30m.',
      'Group must not be empty.',
      'Label "bad-name": invalid label name "bad-name".',
      'Summary: unexpected "}" in operand.',
      '"when the query returns nothing" must be one of "ok" or "alerting", not the text "x".',
    ]);
  });

  it('names silence fields and matchers by their position', () => {
    expect(issueSentence({ path: ['matchers', 1], message: 'unexpected end of input' }, silenceField)).toBe('Matcher 2: unexpected end of input.');
    expect(issueSentence({ path: ['createdBy'], message: 'must not be empty' }, silenceField)).toBe('"created by" must not be empty.');
    expect(issueSentence({ path: ['endsAt'], message: 'endsAt is in the past' }, silenceField)).toBe('End time: endsAt is in the past.');
  });

  it('reads the notification config issues keyed by a dotted path', () => {
    const err = new ApiError('x', 400, 'MTR_NOTIFY_CONFIG_INVALID', undefined, { issues: [{ path: 'route.receiver', message: 'undefined receiver "zz"', line: 1, column: 20 }] });
    expect(refusal(err)).toEqual(['Route.receiver: undefined receiver "zz".']);
    expect(genericField(['receivers', 0, 'slack_configs'])).toBe('receiver 1 (slack_configs)');
  });

  it('gives a sentence for refusals without issues and for a network failure', () => {
    expect(refusal(new ApiError('token t lacks the admin scope', 403, 'MTR_AUTH_FORBIDDEN'))).toEqual(['Not allowed: this change needs an API token with the admin scope.']);
    expect(refusal(new ApiError('no receiver named nope in the notification config', 404, 'MTR_RECEIVER_NOT_FOUND'))).toEqual(['No receiver named nope in the notification config.']);
    expect(refusal(new ApiError('internal error', 500, 'MTR_INTERNAL'))[0]).toMatch(/^The server could not do this \(500\)/);
    expect(refusal(new TypeError('Failed to fetch'))).toEqual(['Could not reach the server. Check the connection and try again.']);
  });
});
