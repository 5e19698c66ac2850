/** Callbacks of a running uevent source. None of them may throw back into the source. */
export interface UeventHandlers {
  /** One raw datagram as the kernel sent it (`ACTION@DEVPATH\0KEY=VAL\0…`); parsed by the platform. */
  onMessage(raw: Uint8Array): void;
  /** Messages were dropped (socket buffer overrun, ENOBUFS): the consumer must rescan. */
  onOverrun(reason: string): void;
  /** The source died after it started; it delivers nothing more. */
  onError(err: Error): void;
}

/**
 * Where kernel uevents come from. The Linux platform uses the netlink source by default; tests
 * inject one they drive by hand (test/helpers/fake-sysfs.ts).
 */
export interface UeventSource {
  /** Resolves once listening; rejects (AppError UEVENT_ERR_SOURCE) when the source cannot open. */
  start(handlers: UeventHandlers): Promise<void>;
  /** Stops listening and releases the socket; safe to call more than once. */
  stop(): Promise<void>;
}
