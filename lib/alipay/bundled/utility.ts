// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk takes one function from `utility`, the
// default timestamp of a request, whose package index also loads escape-html and unescape (2.6 KB).
// Every call here passes its own timestamp; this default is Alipay's time (GMT+8) too, not the
// machine's local time (UTC on Lambda).
import { toAlipayTime } from "../time.js";

export function YYYYMMDDHHmmss(date?: Date | number | string): string {
  return toAlipayTime(date === undefined ? Date.now() : new Date(date).getTime());
}
