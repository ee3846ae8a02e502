/**
 * The receiver integrations, one folder each (config schema, message, sending, tests), assembled
 * here as Alertmanager assembles notify/<name>. The config parser loops over this table: adding
 * an integration touches its folder and one line below.
 */
import type { ReceiverKind } from './kind.js';
import { discord } from './discord/index.js';
import { email } from './email/index.js';
import { log } from './log/index.js';
import { msteams } from './msteams/index.js';
import { msteamsv2 } from './msteamsv2/index.js';
import { opsgenie } from './opsgenie/index.js';
import { pagerduty } from './pagerduty/index.js';
import { pushover } from './pushover/index.js';
import { slack } from './slack/index.js';
import { telegram } from './telegram/index.js';
import { victorops } from './victorops/index.js';
import { webex } from './webex/index.js';
import { webhook } from './webhook/index.js';

export type { IntegrationContext, ReceiverKind } from './kind.js';

export const RECEIVER_KINDS: readonly ReceiverKind[] = [webhook, log, email, slack, pagerduty, opsgenie, msteams, msteamsv2, telegram, discord, webex, pushover, victorops];

export const receiverKind = (key: string): ReceiverKind | undefined => RECEIVER_KINDS.find((k) => k.key === key);

/** Alertmanager's integrations Metronome does not implement: a config using them loads with a warning. */
export const UNSUPPORTED_RECEIVER_KEYS = ['wechat_configs', 'sns_configs', 'jira_configs', 'rocketchat_configs', 'incidentio_configs', 'mattermost_configs'];
