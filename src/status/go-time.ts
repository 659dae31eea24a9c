/** Go's zero time.Time as encoding/json writes it: what /_status shows for "never". */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function offset(minutesEast: number): string {
  if (minutesEast === 0) return 'Z';
  const sign = minutesEast > 0 ? '+' : '-';
  const abs = Math.abs(minutesEast);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * A time as Go's encoding/json writes a time.Time (RFC 3339 with up to nine fraction digits,
 * trailing zeros dropped, "Z" for UTC): in local time like time.Now(), or in UTC like a
 * certificate's NotAfter. JavaScript clocks give milliseconds, so at most three digits appear;
 * undefined is Go's zero time.
 */
export function formatGoTime(when: Date | undefined, zone: 'local' | 'utc' = 'local'): string {
  if (when === undefined) return GO_ZERO_TIME;
  const minutesEast = zone === 'utc' ? 0 : -when.getTimezoneOffset();
  const shifted = new Date(when.getTime() + minutesEast * 60_000);
  const date = `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}`;
  const clock = `${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}`;
  const fraction = pad(shifted.getUTCMilliseconds(), 3).replace(/0+$/, '');
  return `${date}T${clock}${fraction === '' ? '' : `.${fraction}`}${offset(minutesEast)}`;
}
