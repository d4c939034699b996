// The environment a function that holds the Alipay keys runs with, for unit tests that call the real
// handlers or lib/ without a stack: local-only endpoints nothing answers, and the two keys as files.
// Restored, and the key files removed, after the file's tests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { resetConfig } from "../../lib/config.js";

export function useAlipayFunctionEnv(keys: {
  appId?: string;
  sellerId?: string;
  /** What ALIPAY_APP_PRIVATE_KEY holds (a test may put the wrong key there on purpose). */
  appPrivateKeyPem: string;
  alipayPublicKeyPem: string;
}): { write: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), "function-env-"));
  const saved = { ...process.env };
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return `file:${join(dir, name)}`;
  };
  beforeAll(() => {
    Object.assign(process.env, {
      STAGE: "test",
      TABLE_NAME: "orders",
      CHECK_QUEUE_URL: "http://127.0.0.1:9/000000000000/check",
      EVENTS_QUEUE_URL: "http://127.0.0.1:9/000000000000/events",
      ALIPAY_APP_ID: keys.appId ?? "2021000100000001",
      ALIPAY_SELLER_ID: keys.sellerId ?? "2088000100000001",
      ALIPAY_GATEWAY_URL: "http://127.0.0.1:9/gateway.do",
      ALIPAY_NOTIFY_URL: "https://pay.example.com/alipay/notify",
      CHECK_SCHEDULE_SECONDS: "60",
      ALIPAY_APP_CERT: "",
      ALIPAY_APP_PRIVATE_KEY: write("app.pem", keys.appPrivateKeyPem),
      ALIPAY_PUBLIC_KEY: write("alipay.pem", keys.alipayPublicKeyPem),
    });
    resetConfig();
  });
  afterAll(() => {
    process.env = saved;
    resetConfig();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Writes a key file in the folder removed afterwards; its reference (`file:<path>`) for a variable. */
  return { write };
}
