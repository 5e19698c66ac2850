// Manual driver for the VM lab: boots the guest, then reads lines from stdin.
//   node dist/scripts/vm/lab-shell.js            (after npm run build)
// A plain line runs in the guest's busybox sh. Colon commands drive the hardware:
//   :stick ID SERIAL   hot-plug a usb-storage stick      :kbd ID       hot-plug usb-kbd
//   :unplug ID         device_del                        :usb          guest USB tree as JSON
//   :gadget SERIAL     build the composite gadget        :attach / :detach  plug / unplug it
//   :qmp CMD [JSON]    raw QMP command                   :quit
import path from 'node:path';
import readline from 'node:readline';
import { vmLabEnv } from './env.js';
import { readGuestUsb } from './guest-usb.js';
import { startVmLab } from './lab.js';
import { parseJsonObject } from './line-reader.js';
import { createCompositeGadget, createStickImage, plugKeyboard, plugStick, unplug, type CompositeGadget, type Plugged } from './usb-devices.js';

const lab = await startVmLab(vmLabEnv());
console.log(`guest ${lab.kernelVersion} ready in ${(lab.vm.bootMs / 1000).toFixed(1)} s; console log: ${path.join(lab.vm.runDir, 'console.log')}`);
const plugged = new Map<string, Plugged>();
let gadget: CompositeGadget | null = null;

async function handle(line: string): Promise<boolean> {
  const [cmd, ...rest] = line.trim().split(/\s+/);
  const { vm } = lab;
  switch (cmd) {
    case ':quit':
      return false;
    case ':stick': {
      const [id = 'stick', serial = 'SG-MANUAL'] = rest;
      plugged.set(id, await plugStick(vm.qmp, { id, serial, image: createStickImage(path.join(lab.workDir, `${id}.img`)), bus: vm.usbBus }));
      break;
    }
    case ':kbd': {
      const [id = 'kbd'] = rest;
      plugged.set(id, await plugKeyboard(vm.qmp, { id, bus: vm.usbBus }));
      break;
    }
    case ':unplug': {
      const p = plugged.get(rest[0] ?? '');
      if (!p) console.log('unknown id');
      else {
        await unplug(vm.qmp, p);
        plugged.delete(p.id);
      }
      break;
    }
    case ':usb':
      console.log(JSON.stringify(await readGuestUsb(vm.shell), null, 2));
      break;
    case ':gadget':
      gadget = await createCompositeGadget(vm.shell, { serial: rest[0] ?? 'SGMANUAL' });
      break;
    case ':attach':
      await gadget?.attach();
      break;
    case ':detach':
      await gadget?.detach();
      break;
    case ':qmp': {
      const args = rest.length > 1 ? parseJsonObject(rest.slice(1).join(' ')) : null;
      console.log(JSON.stringify(await vm.qmp.execute(rest[0] ?? 'query-status', args ?? undefined)));
      break;
    }
    default: {
      const r = await vm.shell.run(line, { timeoutMs: 120_000 });
      process.stdout.write(r.output);
      if (r.code !== 0) console.log(`[exit ${r.code}]`);
    }
  }
  return true;
}

const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: 'guest> ' });
rl.prompt();
try {
  for await (const line of rl) {
    if (line.trim() === '') {
      rl.prompt();
      continue;
    }
    const more = await handle(line).catch((err: unknown) => {
      console.log(`error: ${err instanceof Error ? err.message : String(err)}`);
      return true;
    });
    if (!more) break;
    rl.prompt();
  }
} finally {
  rl.close();
  await lab.stop();
}
