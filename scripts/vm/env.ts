import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Settings of the VM lab, read once from the environment (the only place scripts/vm reads it). */
export interface VmLabEnv {
  /** SEATGUARD_VM_OPTIONAL=1: skip (with the reason) instead of failing when QEMU cannot run. */
  optional: boolean;
  /** Repository root (the host path the guest also uses inside `chroot /host`). */
  repoRoot: string;
  /** Where results and logs are written (test-artifacts/). */
  artifactsDir: string;
  /** SEATGUARD_VM_CPUS / SEATGUARD_VM_MEMORY_MB override the guest size. */
  cpus: number;
  memoryMb: number;
  /** SEATGUARD_VM_QEMU: the QEMU binary (default qemu-system-x86_64 from PATH). */
  qemuBinary: string;
  /** SEATGUARD_VM_ACCEL=kvm: use KVM where it can boot a stock kernel (not on kvm_pvm hosts); default tcg. */
  accel: 'tcg' | 'kvm';
  /**
   * SEATGUARD_VM_UDEV_AGENT=1: also run udev scenario U5 (the agent started on top of udevd). Off by
   * default: it adds 15–65 s under TCG (host load), mostly node loading the agent over 9p.
   */
  udevAgent: boolean;
  /** SEATGUARD_VM_CLI: the seatguard CLI script (default REPO/dist/scripts/seatguard.js); host path = guest path. */
  cliPath: string;
}

function findRepoRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 10; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'scripts', 'vm', 'build-guest.sh'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`cannot find the repository root above ${start}`);
}

function intFrom(v: string | undefined, dflt: number, min: number, max: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n >= min && n <= max ? n : dflt;
}

/** Reads the lab settings (see VmLabEnv); the repository root is found from this file's location. */
export function vmLabEnv(): VmLabEnv {
  const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
  return {
    optional: process.env.SEATGUARD_VM_OPTIONAL === '1',
    repoRoot,
    artifactsDir: path.join(repoRoot, 'test-artifacts'),
    cpus: intFrom(process.env.SEATGUARD_VM_CPUS, 2, 1, 8),
    memoryMb: intFrom(process.env.SEATGUARD_VM_MEMORY_MB, 1024, 512, 8192),
    qemuBinary: process.env.SEATGUARD_VM_QEMU || 'qemu-system-x86_64',
    accel: process.env.SEATGUARD_VM_ACCEL === 'kvm' ? 'kvm' : 'tcg',
    udevAgent: process.env.SEATGUARD_VM_UDEV_AGENT === '1',
    cliPath: path.resolve(process.env.SEATGUARD_VM_CLI || path.join(repoRoot, 'dist', 'scripts', 'seatguard.js')),
  };
}
