/** Alert delivery layer: channels (webhook, syslog, e-mail) and the dispatcher that feeds them. */
export * from './types.js';
export { createDispatcher, type Dispatcher, type DispatcherDeps, type ChannelStats, type StopResult } from './dispatcher.js';
export { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
export { createWebhookChannel, type WebhookPayload } from './webhook-channel.js';
export { signWebhook, verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER } from './webhook-signature.js';
export { createSyslogChannel } from './syslog-channel.js';
export { createEmailChannel } from './email-channel.js';
export { createChannel } from './create-channel.js';
export {
  ChannelConfigSchema,
  WebhookOptionsSchema,
  SyslogOptionsSchema,
  EmailOptionsSchema,
  type ChannelConfig,
  type WebhookOptions,
  type SyslogOptions,
  type EmailOptions,
} from './config.js';
