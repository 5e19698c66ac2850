import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { buildGuest } from './build.js';
import type { VmLabEnv } from './env.js';
import { bootGuest, type GuestVm } from './guest-vm.js';

/** A booted guest plus what it took to get there. */
export interface VmLab {
  vm: GuestVm;
  kernelVersion: string;
  qemuVersion: string;
  buildMs: number;
  /** Scratch directory on the host (stick images, collector data); removed by stop(). */
  workDir: string;
  stop(): Promise<void>;
}

/** True for failures that mean "QEMU cannot run here" (the case SEATGUARD_VM_OPTIONAL covers). */
export function isVmUnavailable(err: unknown): boolean {
  return err instanceof AppError && (err.code === 'VM_ERR_BUILD' || err.code === 'VM_ERR_QEMU_START' || err.code === 'VM_ERR_BOOT');
}

function qemuVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

/** Builds (or reuses) the guest image and boots it once. */
export async function startVmLab(env: VmLabEnv): Promise<VmLab> {
  const built = await buildGuest(env.repoRoot);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgvm-'));
  let vm: GuestVm;
  try {
    vm = await bootGuest({
      image: built.image,
      runDir: path.join(workDir, 'run'),
      cpus: env.cpus,
      memoryMb: env.memoryMb,
      qemuBinary: env.qemuBinary,
      accel: env.accel,
    });
  } catch (err) {
    fs.rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  return {
    vm,
    kernelVersion: built.image.kernelVersion,
    qemuVersion: qemuVersion(env.qemuBinary),
    buildMs: built.buildMs,
    workDir,
    async stop() {
      await vm.stop();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
