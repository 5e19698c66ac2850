import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { decodeAgentMessage } from '../../../shared/protocol/decode.js';
import { createAgent } from '../../../agent/agent.js';
import { createFakePlatform } from '../../../agent/platform/fake/fake-platform.js';
import { createOutbox } from '../../../agent/store/outbox.js';
import { deviceFixture } from '../../helpers/fake-agent.js';

function types(outbox: ReturnType<typeof createOutbox>): string[] {
  return outbox.pending(0, 100).map((e) => {
    const d = decodeAgentMessage(e.frame);
    return d.ok ? d.msg.type : 'invalid';
  });
}

describe('createAgent', () => {
  it('records agent.started with the lock state before any device event, and agent.stopping last', async () => {
    const platform = createFakePlatform();
    platform.usb.insert(deviceFixture('sandisk-ultra-fit'));
    const outbox = createOutbox({ path: ':memory:' });
    const agent = createAgent({ platform, outbox, log: silentLogger(), clock: new ManualClock(), config: { resyncIntervalMs: 0, flushTimeoutMs: 0 } });
    expect((await agent.start()).state).toBe('locked');
    await agent.stop('test');
    expect(types(outbox)).toEqual(['agent.started', 'lock.state', 'usb.inserted', 'usb.blocked', 'agent.stopping']);
    const started = decodeAgentMessage(outbox.pending(1, 1)[0]?.frame ?? '');
    expect(started.ok && started.msg.body).toEqual({ agent_version: '0.1.0', platform: 'fake', lock_state: 'locked', detail: '2 controller(s) locked' });
    outbox.close();
  });

  it('leaves USB blocked after stop', async () => {
    const platform = createFakePlatform();
    const outbox = createOutbox({ path: ':memory:' });
    const agent = createAgent({ platform, outbox, log: silentLogger(), clock: new ManualClock(), config: { resyncIntervalMs: 0, flushTimeoutMs: 0 } });
    await agent.start();
    await agent.stop();
    const port = platform.usb.insert(deviceFixture('sandisk-ultra-fit'));
    expect(platform.usb.interfaceState(`${port}:1.0`)).toEqual({ authorized: false, driver: null });
    expect(platform.usb.controllerDefault('usb1')).toBe(0);
    outbox.close();
  });
});
