// Certificate mode after Alipay rotates its public-key certificate (支付宝公钥证书无感知升级): what
// this container has learned, kept for the container's life (module state, like the official Java
// SDK's alipayPublicCertMap per client). A certificate is learned only once it chains to the
// configured root bundle (lib/alipay/certificates.ts trustedCertificate), and is keyed by that
// bundle's SN too: a certificate learned under one root bundle is never used under another.
// Nothing here is reachable by a stranger without Alipay's signature, except the notification
// probe, which is rate-limited (at most one gateway call a minute per container).
import type { KeyObject } from "node:crypto";

interface Learned {
  sn: string;
  publicKey: KeyObject;
}

/** A rotation adds one certificate; more than this per root bundle in one container is not expected. */
const maxLearnedPerRoot = 8;
/** A SN whose certificate was refused (did not chain) or could not be fetched is not asked for again sooner. */
export const refusedRetryMs = 60_000;
/** The notification probe (a signed gateway call to learn a rotated certificate) runs at most this often. */
export const probeIntervalMs = 60_000;

const learned = new Map<string, Learned[]>();
const refusedUntil = new Map<string, number>();
const inFlight = new Map<string, Promise<KeyObject>>();
let lastProbeAt = Number.NEGATIVE_INFINITY;

const key = (rootSn: string, sn: string) => `${rootSn}/${sn}`;

/** The key of a learned certificate of SN `sn` under the root bundle `rootSn`. */
export function learnedKey(rootSn: string, sn: string): KeyObject | undefined {
  return learned.get(rootSn)?.find((entry) => entry.sn === sn)?.publicKey;
}

/** Every learned key under the root bundle `rootSn`, newest first (a notification names no SN). */
export function learnedKeys(rootSn: string): KeyObject[] {
  return (learned.get(rootSn) ?? []).map((entry) => entry.publicKey);
}

export function learn(rootSn: string, sn: string, publicKey: KeyObject): void {
  const entries = (learned.get(rootSn) ?? []).filter((entry) => entry.sn !== sn);
  learned.set(rootSn, [{ sn, publicKey }, ...entries].slice(0, maxLearnedPerRoot));
  refusedUntil.delete(key(rootSn, sn));
}

/** Whether `sn` was refused (or could not be fetched) less than refusedRetryMs ago. */
export function recentlyRefused(rootSn: string, sn: string, now = Date.now()): boolean {
  return (refusedUntil.get(key(rootSn, sn)) ?? 0) > now;
}

export function refuse(rootSn: string, sn: string, now = Date.now()): void {
  refusedUntil.set(key(rootSn, sn), now + refusedRetryMs);
}

/** One fetch per SN at a time: concurrent answers naming the same new SN share it. */
export function learnOnce(rootSn: string, sn: string, fetch: () => Promise<KeyObject>): Promise<KeyObject> {
  const k = key(rootSn, sn);
  const running = inFlight.get(k);
  if (running) return running;
  const started = fetch().finally(() => inFlight.delete(k));
  inFlight.set(k, started);
  return started;
}

/** Takes the container's notification probe if a minute has passed since the last one. */
export function takeProbe(now = Date.now()): boolean {
  if (now - lastProbeAt < probeIntervalMs) return false;
  lastProbeAt = now;
  return true;
}

/** Tests: a fresh container. */
export function forgetRotations(): void {
  learned.clear();
  refusedUntil.clear();
  inFlight.clear();
  lastProbeAt = Number.NEGATIVE_INFINITY;
}
