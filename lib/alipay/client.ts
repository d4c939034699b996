// The configured gateway, built once per cold start.
import { alipayKeys, config } from "../config.js";
import { AlipayGateway } from "./gateway.js";

let gateway: Promise<AlipayGateway> | undefined;

export function alipay(): Promise<AlipayGateway> {
  gateway ??= Promise.all([config(), alipayKeys()]).then(([c, keys]) => new AlipayGateway({ ...c.alipay, ...keys }));
  return gateway;
}
