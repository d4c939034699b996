// The configured gateway, built once per cold start (a failed build, e.g. SSM throttled, is
// retried on the next call instead of poisoning the container).
import { alipayKeys, config } from "../config.js";
import { AlipayGateway } from "./gateway.js";

const gateways = new Map<number | "default", Promise<AlipayGateway>>();

/** The gateway; `timeoutMs` caps its HTTP timeout (e.g. for a query inside an API request). */
export function alipay(timeoutMs?: number): Promise<AlipayGateway> {
  const key = timeoutMs ?? "default";
  let gateway = gateways.get(key);
  if (!gateway) {
    gateway = Promise.all([config(), alipayKeys()]).then(([c, keys]) =>
      new AlipayGateway({ ...c.alipay, ...keys, timeoutMs: Math.min(c.alipay.timeoutMs, timeoutMs ?? Infinity) }));
    gateway.catch(() => gateways.delete(key));
    gateways.set(key, gateway);
  }
  return gateway;
}
