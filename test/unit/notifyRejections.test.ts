// Who can page through the notify URL (issue 17): what anyone can POST to it (garbage, unsigned,
// another signature type, a bad signature) counts as NotificationsUnverified, which no page watches;
// only a notification that passed Alipay's signature and still does not match counts as
// NotificationsMismatched, which pages. The real notification code, with real keys; the checks
// exercised here all come before the table, so no database is needed.
import { createSign, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { metricCounts } from "../../lib/observability.js";
import { handleNotification, mismatchReasons, unverifiedReasons } from "../../lib/payments/notify.js";
import { useAlipayFunctionEnv } from "./functionEnv.js";

const app = generateKeyPairSync("rsa", { modulusLength: 2048 });
const alipay = generateKeyPairSync("rsa", { modulusLength: 2048 });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
const appId = "2021000100000001";
const sellerId = "2088000100000001";

useAlipayFunctionEnv({
  appId,
  sellerId,
  appPrivateKeyPem: String(app.privateKey.export({ type: "pkcs8", format: "pem" })),
  alipayPublicKeyPem: String(alipay.publicKey.export({ type: "spki", format: "pem" })),
});

const fields = (overrides: Record<string, string> = {}): Record<string, string> => ({
  notify_time: "2026-12-06 12:00:01",
  notify_type: "trade_status_sync",
  notify_id: "2026120600222120001000000000000001",
  charset: "gbk",
  version: "1.0",
  sign_type: "RSA2",
  app_id: appId,
  seller_id: sellerId,
  out_trade_no: "pay0123456789abcdef0123456789abc_1",
  trade_no: "2026120622001400000000000001",
  trade_status: "TRADE_SUCCESS",
  total_amount: "6.60",
  ...overrides,
});

/** A form body as Alipay sends it (GBK charset, ASCII values), signed with `key` over the sorted fields (null: unsigned). */
function body(params: Record<string, string>, key: typeof alipay.privateKey | null = alipay.privateKey): string {
  const content = Object.keys(params)
    .filter((k) => k !== "sign_type" && k !== "sign" && params[k] !== "")
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join("&");
  const signed = key ? { ...params, sign: createSign("RSA-SHA256").update(content).sign(key, "base64") } : params;
  return new URLSearchParams(signed).toString();
}

const counted = (name: string) => metricCounts.get(name) ?? 0;

async function classOf(raw: string): Promise<{ reason: string; unverified: number; mismatched: number }> {
  const before = { unverified: counted("NotificationsUnverified"), mismatched: counted("NotificationsMismatched") };
  const outcome = await handleNotification(raw);
  if (outcome.kind !== "rejected") throw new Error(`not rejected: ${JSON.stringify(outcome)}`);
  return {
    reason: outcome.reason,
    unverified: counted("NotificationsUnverified") - before.unverified,
    mismatched: counted("NotificationsMismatched") - before.mismatched,
  };
}

describe("a rejected notification", () => {
  it("that anyone could have sent counts as unverified, never as a mismatch", async () => {
    const cases: Array<[string, string]> = [
      ["malformed", ""],
      ["malformed", "sign=x&sign=y"],
      ["missing_signature", body(fields(), null)],
      ["unsupported_sign_type", body(fields({ sign_type: "RSA" }))],
      ["bad_signature", body(fields(), stranger.privateKey)],
      ["bad_signature", body(fields()).replace("total_amount=6.60", "total_amount=0.01")],
    ];
    for (const [reason, raw] of cases) {
      expect(await classOf(raw), reason).toEqual({ reason, unverified: 1, mismatched: 0 });
    }
    expect(new Set(cases.map(([reason]) => reason))).toEqual(new Set(unverifiedReasons));
  });

  it("that passed Alipay's signature and does not match counts as a mismatch, which pages", async () => {
    expect(await classOf(body(fields({ app_id: "2021000000009999" })))).toEqual({
      reason: "app_id_mismatch",
      unverified: 0,
      mismatched: 1,
    });
    expect(await classOf(body(fields({ seller_id: "2088000000009999" })))).toEqual({
      reason: "seller_id_mismatch",
      unverified: 0,
      mismatched: 1,
    });
    expect(mismatchReasons).toContain("app_id_mismatch");
  });
});
