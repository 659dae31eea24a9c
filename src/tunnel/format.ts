const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** "0 bytes", "398.3 KiB": Ghostunnel's byte counts in connection logs. */
export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${UNITS[i]}`;
}
