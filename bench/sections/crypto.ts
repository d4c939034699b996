// 4. RSA2 (SHA256withRSA, 2048-bit) sign and verify per operation: the CPU floor of getOrderString
// (it signs the order string) and of alipayNotify (it verifies Alipay's signature). node:crypto
// directly, with a parsed KeyObject and with the PEM text parsed on every call (what alipay-sdk
// does), and alipay-sdk's own sdkExecute / checkNotifySignV2 as the code calls them.
import { createPrivateKey, createPublicKey, createSign, createVerify } from "node:crypto";
import { AlipaySdk } from "alipay-sdk";
import { generateRsaKeyPair } from "../../simulator/keys.js";
import { tradeNotificationParams } from "../../simulator/notifier.js";
import { rsa2Sign, signContent, type Params } from "../../simulator/signing.js";
import { formatGmt8, newNotifyId, newTradeNo } from "../../simulator/values.js";
import { fenToYuan } from "../../lib/money.js";
import { toAlipayTime } from "../../lib/alipay/time.js";
import { envInt, num, progress, report, table, type Cell } from "../lib/format.js";

export async function run(): Promise<void> {
  const durationMs = envInt("BENCH_CRYPTO_MS", 1000, 300);
  progress(`crypto: RSA-2048 keys`);
  const app = generateRsaKeyPair();
  const alipayKeys = generateRsaKeyPair();
  const appKey = createPrivateKey(app.privateKeyPkcs8);
  const alipayPrivate = createPrivateKey(alipayKeys.privateKeyPkcs8);
  const alipayPublic = createPublicKey(alipayKeys.publicKey);
  const appId = "2021000000000001";
  const sdk = new AlipaySdk({
    appId,
    privateKey: app.privateKeyPkcs8,
    alipayPublicKey: alipayKeys.publicKey,
    keyType: "PKCS8",
    signType: "RSA2",
    gateway: "http://127.0.0.1:9/gateway.do",
    camelcase: false,
  });

  // What getOrderString signs (as lib/alipay/gateway.ts asks for it).
  const orderParams = () => ({
    timestamp: toAlipayTime(Date.now()),
    notify_url: "https://pay.example.com/alipay/notify",
    bizContent: {
      out_trade_no: "pay3dddb5ba410a80cfd6ff1e858e90a_1",
      total_amount: fenToYuan(1234),
      subject: "Coffee beans 250g",
      body: "Single origin, whole beans",
      product_code: "QUICK_MSECURITY_PAY",
      time_expire: toAlipayTime(Date.now() + 900_000),
    },
  });
  const orderString = sdk.sdkExecute("alipay.trade.app.pay", orderParams());
  const signed = Object.fromEntries(new URLSearchParams(orderString)) as Params;
  const orderContent = signContent(signed);

  // What alipayNotify verifies (as simulator/notifier.ts signs it).
  const now = Date.now();
  const notification: Params = {
    notify_time: formatGmt8(now),
    notify_id: newNotifyId(now),
    ...tradeNotificationParams(
      {
        appId,
        sellerId: "2088000000000001",
        tradeNo: newTradeNo(now),
        outTradeNo: "pay3dddb5ba410a80cfd6ff1e858e90a_1",
        status: "TRADE_SUCCESS",
        totalFen: 1234,
        subject: "Coffee beans 250g",
        buyerId: "2088102177846241",
        buyerLogonId: "131****6241",
        createdAtMs: now - 60_000,
        paidAtMs: now,
        refunds: [],
        refundedFen: 0,
      },
      { appId, sellerId: "2088000000000001", appPublicKey: app.publicKey },
    ),
  };
  const notifyContent = signContent(notification, { excludeSignType: true });
  notification.sign = rsa2Sign(notifyContent, alipayPrivate);
  if (!sdk.checkNotifySignV2({ ...notification })) throw new Error("checkNotifySignV2 refused a valid notification");

  const cases: Array<{ name: string; payload: string; op: () => unknown }> = [
    {
      name: "sign, node:crypto, KeyObject",
      payload: "order string",
      op: () => createSign("RSA-SHA256").update(orderContent, "utf8").sign(appKey, "base64"),
    },
    {
      name: "sign, node:crypto, PEM parsed per call",
      payload: "order string",
      op: () => createSign("RSA-SHA256").update(orderContent, "utf8").sign(app.privateKeyPkcs8, "base64"),
    },
    {
      name: "AlipaySdk.sdkExecute (app pay order string)",
      payload: "order string",
      op: () => sdk.sdkExecute("alipay.trade.app.pay", orderParams()),
    },
    {
      name: "verify, node:crypto, KeyObject",
      payload: "notification",
      op: () => createVerify("RSA-SHA256").update(notifyContent, "utf8").verify(alipayPublic, notification.sign!, "base64"),
    },
    {
      name: "verify, node:crypto, PEM parsed per call",
      payload: "notification",
      op: () => createVerify("RSA-SHA256").update(notifyContent, "utf8").verify(alipayKeys.publicKey, notification.sign!, "base64"),
    },
    { name: "AlipaySdk.checkNotifySignV2", payload: "notification", op: () => sdk.checkNotifySignV2({ ...notification }) },
  ];

  progress(`crypto: ${cases.length} operations, ~${durationMs} ms each`);
  const rows: Cell[][] = [];
  const results: unknown[] = [];
  for (const c of cases) {
    for (let i = 0; i < 30; i += 1) c.op(); // warm-up
    let ops = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < durationMs) {
      for (let i = 0; i < 10; i += 1) c.op();
      ops += 10;
      elapsed = performance.now() - t0;
    }
    const perOpUs = (elapsed * 1000) / ops;
    rows.push([c.name, c.payload, num((ops / elapsed) * 1000, 0), num(perOpUs, 0), ops]);
    results.push({ name: c.name, payload: c.payload, opsPerSecond: (ops / elapsed) * 1000, microsPerOp: perOpUs, ops });
  }
  console.log(
    table(`4. RSA2 (SHA256withRSA, 2048-bit) per operation, one core`, ["operation", "payload", "ops/s", "µs/op", "ops timed"], rows, [
      `Payloads: the order string getOrderString signs (${orderContent.length} B signed), a TRADE_SUCCESS notification (${notifyContent.length} B signed).`,
      `alipay-sdk passes the PEM text to node:crypto on every call, so each sign/verify also parses the key; sdkExecute adds JSON and URL encoding.`,
      `checkNotifySignV2 verifies twice for a genuine notification: first with sign_type in the signed text (Alipay leaves it out), then without.`,
    ]),
  );
  report("crypto", { durationMs, orderBytes: orderContent.length, notifyBytes: notifyContent.length, results });
}
