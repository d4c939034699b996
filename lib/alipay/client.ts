// The configured gateway. Building one is cheap, so it is kept only while the configuration and the
// key values it was built from are current: after a key rotation (secrets are re-read every
// SECRETS_CACHE_SECONDS, lib/config.ts) the next call builds a new one. A failed read or build
// (e.g. SSM throttled) is not kept either: the next call tries again.
import { alipayKeys, config, type AlipayKeys, type Config } from "../config.js";
import { AlipayGateway } from "./gateway.js";

interface Built {
  config: Config;
  keys: AlipayKeys;
  gateway: AlipayGateway;
}

const gateways = new Map<number | "default", Built>();

/** The gateway; `timeoutMs` caps its HTTP timeout (e.g. for a query inside an API request). */
export async function alipay(timeoutMs?: number): Promise<AlipayGateway> {
  const [settings, keys] = await Promise.all([config(), alipayKeys()]);
  const key = timeoutMs ?? "default";
  const built = gateways.get(key);
  if (built && built.config === settings && sameKeys(built.keys, keys)) return built.gateway;
  const gateway = new AlipayGateway({ ...settings.alipay, ...keys, timeoutMs: Math.min(settings.alipay.timeoutMs, timeoutMs ?? Infinity) });
  gateways.set(key, { config: settings, keys, gateway });
  return gateway;
}

function sameKeys(a: AlipayKeys, b: AlipayKeys): boolean {
  return (
    a.appPrivateKey === b.appPrivateKey &&
    a.alipayPublicKey === b.alipayPublicKey &&
    a.certificates?.appCert === b.certificates?.appCert &&
    a.certificates?.alipayPublicCert === b.certificates?.alipayPublicCert &&
    a.certificates?.alipayRootCert === b.certificates?.alipayRootCert
  );
}

/**
 * Middy middleware for the functions that hold the Alipay keys: on a cold start the keys are read and
 * checked before the first invocation's handler runs, so a key that cannot work fails that invocation
 * with its AlipayKeyError (naming the setting and the problem, never the key), not whichever later
 * request first signs or verifies. A failed check (a bad key, SSM throttled) is made again next time.
 */
export function alipayKeysChecked(): { before: () => Promise<void> } {
  let checked = false;
  return {
    before: async () => {
      if (checked) return;
      await alipay();
      checked = true;
    },
  };
}
