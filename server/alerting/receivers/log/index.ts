/** Metronome's own integration: each notification as one structured log line (the default receiver). */
import { z } from 'zod';
import { webhookPayload } from '../../receivers.js';
import { defineReceiver } from '../kind.js';

const logSchema = z.strictObject({
  send_resolved: z.boolean().optional(),
  level: z.enum(['info', 'warn', 'error']).optional(),
});

export const log = defineReceiver({
  key: 'log_configs',
  name: 'log',
  sendResolved: true,
  schema: logSchema,
  create(c, ctx) {
    const level = c.level ?? 'info';
    return {
      kind: 'log',
      sendResolved: c.send_resolved ?? true,
      async send(n) {
        const p = webhookPayload(n);
        ctx.log[level](
          {
            receiver: p.receiver,
            groupKey: p.groupKey,
            status: p.status,
            groupLabels: p.groupLabels,
            alerts: p.alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, startsAt: a.startsAt })),
          },
          `alert notification: ${p.status} ${Object.entries(p.groupLabels).map(([k, v]) => `${k}=${v}`).join(',') || '(all)'} (${p.alerts.length} alert(s))`,
        );
        return { ok: true, retry: false };
      },
    };
  },
});
