// The configured gateway, built once per cold start.
import { config } from "../config.js";
import { AlipayGateway } from "./gateway.js";

let gateway: Promise<AlipayGateway> | undefined;

export function alipay(): Promise<AlipayGateway> {
  gateway ??= config().then((c) => new AlipayGateway(c.alipay));
  return gateway;
}
