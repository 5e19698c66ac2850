import type { ProcessInfo, ProcessLister } from '../../sensors.js';
import { clone } from './clone.js';

/** A process table: spawn() adds, terminate() removes (unless the pid is made unkillable). */
export class FakeProcessLister implements ProcessLister {
  #procs = new Map<number, ProcessInfo>();
  #unkillable = new Set<number>();
  #nextPid = 1000;
  readonly terminated: number[] = [];

  spawn(p: Partial<ProcessInfo> & { path: string | null; sha256: string | null }): number {
    const pid = p.pid ?? this.#nextPid++;
    this.#procs.set(pid, { name: null, startTime: String(pid * 7), uid: 1000, ...p, pid });
    return pid;
  }
  /** Replaces the process image behind a pid (exec, or PID reuse). */
  replace(pid: number, p: Partial<ProcessInfo>): this {
    const cur = this.#procs.get(pid);
    if (cur) this.#procs.set(pid, { ...cur, ...p, pid });
    return this;
  }
  exit(pid: number): this {
    this.#procs.delete(pid);
    return this;
  }
  setUnkillable(pid: number): this {
    this.#unkillable.add(pid);
    return this;
  }
  running(pid: number): boolean {
    return this.#procs.has(pid);
  }
  list(): Promise<ProcessInfo[]> {
    return Promise.resolve([...this.#procs.values()].map(clone));
  }
  identify(pid: number): Promise<ProcessInfo | null> {
    const p = this.#procs.get(pid);
    return Promise.resolve(p ? clone(p) : null);
  }
  terminate(pid: number) {
    if (!this.#procs.has(pid)) return Promise.resolve({ result: 'gone' as const, detail: 'no such process' });
    if (this.#unkillable.has(pid)) return Promise.resolve({ result: 'failed' as const, detail: 'fake: EPERM' });
    this.#procs.delete(pid);
    this.terminated.push(pid);
    return Promise.resolve({ result: 'killed' as const, detail: 'fake: removed' });
  }
}
