/**
 * The sensor seams: narrow interfaces between the compliance sensors (agent/sensors) and the OS.
 * Adapters translate what the OS exposes; they never decide. Resolving disagreeing firmware sources,
 * applying the software policy and choosing what to kill all happen in agent/sensors.
 * Interfaces only — implementations live in platform/{linux,windows,fake}.
 */

/** State of one firmware password as read from one source. `unknown` is a state, never a guess. */
export type PasswordState = 'set' | 'not_set' | 'not_implemented' | 'unknown';

/** The four SMBIOS type-24 fields; vendor interfaces map their own names onto these. */
export const PASSWORD_FIELDS = ['adminPassword', 'powerOnPassword', 'keyboardPassword', 'frontPanelReset'] as const;
export type PasswordField = (typeof PASSWORD_FIELDS)[number];

/** How far a source is trusted: vendor interfaces beat the SMBIOS table, which firmware often leaves static. */
export type SourceAuthority = 'vendor' | 'smbios';

/** One firmware source, e.g. "firmware-attributes:dell-wmi-sysman" or "smbios:type24". */
export interface FirmwareSourceReading {
  name: string;
  authority: SourceAuthority;
  /** False when the source is absent or unreadable; `detail` then says why. */
  available: boolean;
  /** Only the fields this source speaks about. */
  fields: Partial<Record<PasswordField, PasswordState>>;
  /** Human-readable facts behind the values (sanitized), e.g. "Admin role=bios-admin is_enabled=1". */
  detail: string;
}

export interface BiosInfo {
  vendor: string | null;
  version: string | null;
  /** As the firmware reports it (often MM/DD/YYYY). */
  date: string | null;
  /** Why a value is null, when it is. */
  detail: string;
}

export interface FirmwareReading {
  sources: FirmwareSourceReading[];
  bios: BiosInfo;
}

export interface FirmwareProbe {
  /** Reads every source once. Never throws: an unreadable source comes back `available: false`. */
  read(): Promise<FirmwareReading>;
}

export type PackageSource = 'dpkg' | 'rpm' | 'windows' | 'fake';

/** One installed package. Strings are sanitized by the adapter. */
export interface InstalledPackage {
  name: string;
  version: string | null;
  arch: string | null;
  publisher: string | null;
  source: PackageSource;
}

export interface InventoryWatch {
  stop(): Promise<void>;
}

export interface SoftwareInventory {
  /**
   * The complete installed set. Throws an AppError (SOFT_ERR_SOURCE) when no source could be read
   * completely: a partial list must never be diffed into "everything was uninstalled".
   */
  list(): Promise<InstalledPackage[]>;
  /**
   * Calls `onChange` (raw, un-debounced) when the package database may have changed. Errors go to
   * `onError`. Returns null when the platform has nothing to watch (the sensor then only polls).
   */
  watch(onChange: () => void, onError: (err: Error) => void): Promise<InventoryWatch | null>;
}

/** One running process as seen by the OS. */
export interface ProcessInfo {
  pid: number;
  /** Short name (Linux comm / Windows Name), sanitized; null when unreadable. */
  name: string | null;
  /** Executable path (Linux may end in " (deleted)"); null for kernel threads or when unreadable. */
  path: string | null;
  /** Lowercase hex sha256 of the executable image; null when it could not be read. */
  sha256: string | null;
  /** Opaque start marker (Linux starttime in clock ticks) used to detect PID reuse; null when unknown. */
  startTime: string | null;
  uid: number | null;
  /** Why path or sha256 is null: "kernel thread", "EACCES", "gone", … */
  problem?: string;
}

export type TerminateResult = 'killed' | 'gone' | 'failed';

export interface ProcessLister {
  /** Every process readable right now. Never throws for one bad process. */
  list(): Promise<ProcessInfo[]>;
  /** Reads one process again, re-hashing its executable; null when it is gone. */
  identify(pid: number): Promise<ProcessInfo | null>;
  /** Ends the process at once (SIGKILL / TerminateProcess). */
  terminate(pid: number): Promise<{ result: TerminateResult; detail: string }>;
}

export interface NetInterface {
  name: string;
  /** Lowercase "aa:bb:cc:dd:ee:ff"; null when unknown. */
  mac: string | null;
  /** Addresses without prefix length, sorted; null when the source cannot tell (captured trees). */
  ipv4: string[] | null;
  ipv6: string[] | null;
  internal: boolean;
}

export interface ReachabilityTarget {
  host: string;
  port: number;
}

export interface ReachabilityResult {
  /** true: a TCP connection opened; false: refused, timed out or no route; null: could not test. */
  reachable: boolean | null;
  detail: string;
}

export interface NetworkProbe {
  interfaces(): Promise<NetInterface[]>;
  /** One TCP connect attempt with a timeout, closed at once. */
  checkReachability(target: ReachabilityTarget, timeoutMs: number): Promise<ReachabilityResult>;
}

/** The four sensor seams of one platform. */
export interface SensorPlatform {
  firmware: FirmwareProbe;
  software: SoftwareInventory;
  processes: ProcessLister;
  network: NetworkProbe;
}

/** Result of running an external command (rpm, PowerShell). */
export interface CommandResult {
  /** Exit code; null when the command could not be started or was killed by the timeout. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not start (ENOENT) or timed out. */
  error?: string;
}

/** Runs one command without a shell. Injected so adapters are tested against recorded output. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/** Runs one PowerShell script and returns its raw output. */
export type PowerShellRunner = (script: string) => Promise<CommandResult>;
