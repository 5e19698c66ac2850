import type { Clock } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/logger.js';
import type { Channel } from './types.js';
import { ChannelConfigSchema, validateOptions, type ChannelConfig } from './config.js';
import { createEmailChannel } from './email-channel.js';
import { createSyslogChannel } from './syslog-channel.js';
import { createWebhookChannel } from './webhook-channel.js';

export interface CreateChannelDeps {
  log?: Logger;
  clock?: Clock;
}

/** Builds a channel from one `alerts.channels` config entry; throws ALERT_ERR_CHANNEL_CONFIG when invalid. */
export function createChannel(config: ChannelConfig, deps: CreateChannelDeps = {}): Channel {
  const c = validateOptions(ChannelConfigSchema, config, 'channel');
  const clockDep = deps.clock ? { clock: deps.clock } : {};
  switch (c.kind) {
    case 'webhook': {
      const { kind: _kind, ...opts } = c;
      return createWebhookChannel(opts, clockDep);
    }
    case 'syslog': {
      const { kind: _kind, ...opts } = c;
      return createSyslogChannel(opts, clockDep);
    }
    case 'email': {
      const { kind: _kind, ...opts } = c;
      return createEmailChannel(opts, deps.log ? { log: deps.log } : {});
    }
  }
}
