// Alipay works in GMT+8 (no daylight saving) with "yyyy-MM-dd HH:mm:ss"; Lambda runs in UTC.
const offsetMs = 8 * 3600 * 1000;

export function toAlipayTime(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs / 1000) * 1000 + offsetMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

export function fromAlipayTime(text: string | undefined): number | undefined {
  const match = text && /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) - offsetMs;
}
