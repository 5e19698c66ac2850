/**
 * BIOS identity through systeminformation (dmidecode, then sysfs). Loaded lazily: it is only the
 * fallback of the Linux firmware probe when sys/class/dmi/id is unreadable.
 */
export async function systeminformationBios(): Promise<{ vendor?: string; version?: string; releaseDate?: string }> {
  const si = await import('systeminformation');
  const b = await si.bios();
  return { vendor: b.vendor, version: b.version, releaseDate: b.releaseDate };
}
