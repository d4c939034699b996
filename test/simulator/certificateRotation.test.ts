// Certificate mode after Alipay rotates its certificate (issue 19, part 4), through the real
// alipay-sdk against the simulator over HTTP: answers naming an unknown alipay_cert_sn make the
// gateway fetch that certificate (alipay.open.app.alipaycert.download), check it chains to the root
// bundle, and carry on (no AlipayCallsFailed); notifications signed with the new key verify after
// one probe a minute per container; a certificate that does not chain is refused.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlipayGateway, AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { forgetRotations } from "../../lib/alipay/rotation.js";
import { metricCounts } from "../../lib/observability.js";
import {
  type AlipaySimulator,
  firstCertSn,
  type IssuedCertificates,
  issueCertificates,
  startAlipaySimulator,
} from "../../simulator/index.js";
import { APP_ID, keys, type Receiver, SELLER_ID, startReceiver, waitFor } from "./support.js";

let sim: AlipaySimulator;
let issued: IssuedCertificates;
let receiver: Receiver;

beforeAll(async () => {
  const k = keys();
  issued = issueCertificates({ appId: APP_ID, appPrivateKey: k.app.privateKeyPkcs8, alipayPrivateKey: k.alipay.privateKeyPkcs8 });
  sim = await startAlipaySimulator({
    alipayPrivateKey: k.alipay.privateKeyPkcs8,
    certificates: { alipayCert: issued.alipayCert, rootCert: issued.rootCert, ca: issued.ca },
    apps: [{ appId: APP_ID, appPublicKey: k.app.publicKey, appCert: issued.appCert, sellerId: SELLER_ID }],
    timeScale: 10_000,
  });
  receiver = await startReceiver();
});

afterAll(async () => {
  await sim?.close();
  await receiver?.close();
});

// Each test starts as a fresh container that has learned nothing.
beforeEach(() => forgetRotations());

/** The gateway as a function builds it: certificate mode with the certificates first configured. */
function gateway(): AlipayGateway {
  return new AlipayGateway({
    appId: APP_ID,
    appPrivateKey: keys().app.privateKeyPkcs8,
    certificates: { appCert: issued.appCert, alipayPublicCert: issued.alipayCert, alipayRootCert: issued.rootCert },
    gatewayUrl: sim.gatewayUrl,
    notifyUrl: receiver.url,
    timeoutMs: 5000,
  });
}

const names = ["AlipayCalls", "AlipayCallsFailed", "AlipayCertificatesLearned", "AlipayCertificatesRefused"] as const;
type Counted = Record<(typeof names)[number], number>;

/** What `body` added to the counters. */
async function counted(body: () => Promise<unknown>): Promise<{ counts: Counted; outcome: unknown }> {
  const before = names.map((name) => metricCounts.get(name) ?? 0);
  const outcome = await body().catch((error: unknown) => error);
  const counts = Object.fromEntries(names.map((name, i) => [name, (metricCounts.get(name) ?? 0) - before[i]!])) as Counted;
  return { counts, outcome };
}

let sequence = 0;
/** A paid trade (paid at the simulator, its notification sent to the receiver). */
async function paidTrade(alipay: AlipayGateway): Promise<{ outTradeNo: string; notification: Record<string, string> }> {
  const outTradeNo = `rot_${Date.now()}_${(sequence += 1)}`;
  sim.pay(alipay.orderString({ outTradeNo, amountFen: 4321, subject: "rotation", expiresAtMs: Date.now() + 600_000 }));
  const received = await waitFor(() => receiver.received.find((r) => r.params.out_trade_no === outTradeNo));
  return { outTradeNo, notification: received.params };
}

describe("Alipay rotates its certificate", () => {
  it("Alipay re-issues its certificate for the same key (a new SN): fetched and learned the same way", async () => {
    const alipay = gateway();
    const trade = await paidTrade(alipay);
    const key = sim.alipayPublicKey;
    const rotation = sim.rotateCertificate({ sameKey: true });
    expect(rotation.alipayPublicKey).toBe(key);
    const { counts, outcome } = await counted(() => alipay.query(trade.outTradeNo));
    expect(outcome).toMatchObject({ kind: "trade" });
    expect(counts).toMatchObject({ AlipayCalls: 2, AlipayCallsFailed: 0, AlipayCertificatesLearned: 1 });
    expect(rotation.alipayPublicKey).toBe(sim.alipayPublicKey);
    expect(rotation.alipayCertSn).not.toBe(firstCertSn(issued.alipayCert));
  });

  it("answers naming the new certificate: fetched once, checked against the root, verified; no failure counted", async () => {
    const alipay = gateway();
    const before = await paidTrade(alipay);
    expect(await alipay.query(before.outTradeNo)).toMatchObject({ kind: "trade", status: "TRADE_SUCCESS" });

    const rotation = sim.rotateCertificate();
    expect(rotation.alipayCertSn).not.toBe(rotation.previousAlipayCertSn);
    const first = await counted(() => alipay.query(before.outTradeNo));
    expect(first.outcome).toMatchObject({ kind: "trade", status: "TRADE_SUCCESS", totalFen: 4321 });
    // The query and the certificate's download; a rotation handled is not a failure.
    expect(first.counts).toEqual({ AlipayCalls: 2, AlipayCallsFailed: 0, AlipayCertificatesLearned: 1, AlipayCertificatesRefused: 0 });
    // Learned for the container: the next answers verify without a download, a new gateway too.
    const next = await counted(() => gateway().query(before.outTradeNo));
    expect(next.counts).toEqual({ AlipayCalls: 1, AlipayCallsFailed: 0, AlipayCertificatesLearned: 0, AlipayCertificatesRefused: 0 });
    // A business answer (no such trade) signed with the new certificate is no failure either.
    expect(await alipay.query("rot_never_created")).toEqual({ kind: "not_found" });
  });

  it("concurrent answers naming the new certificate share one download", async () => {
    const alipay = gateway();
    const trade = await paidTrade(alipay);
    sim.rotateCertificate();
    const { counts, outcome } = await counted(() => Promise.all([1, 2, 3].map(() => alipay.query(trade.outTradeNo))));
    expect(outcome).toHaveLength(3);
    expect(counts).toEqual({ AlipayCalls: 4, AlipayCallsFailed: 0, AlipayCertificatesLearned: 1, AlipayCertificatesRefused: 0 });
  });

  it("a notification signed with the new key verifies after one probe, at most once a minute per container", async () => {
    const alipay = gateway();
    sim.rotateCertificate();
    const { outTradeNo, notification } = await paidTrade(alipay);
    // The key we hold does not verify it; nothing learned in this container yet.
    expect(alipay.verifyNotification(notification)).toBe(false);
    const probed = await counted(() => alipay.verifyNotificationAfterRotation(notification, undefined, outTradeNo));
    expect(probed.outcome).toBe(true);
    expect(probed.counts).toMatchObject({ AlipayCalls: 2, AlipayCallsFailed: 0, AlipayCertificatesLearned: 1 });
    // Learned: verified with no call at all.
    expect((await counted(() => alipay.verifyNotificationAfterRotation(notification, undefined, outTradeNo))).counts.AlipayCalls).toBe(0);

    // A forged notification (a stranger's key) in a fresh container: one probe, then none for a minute.
    forgetRotations();
    const forged = { ...notification, sign: Buffer.alloc(256, 7).toString("base64") };
    const once = await counted(() => alipay.verifyNotificationAfterRotation(forged, undefined, outTradeNo));
    expect(once.outcome).toBe(false);
    expect(once.counts.AlipayCalls).toBe(2);
    for (let i = 0; i < 5; i++) {
      const again = await counted(() => alipay.verifyNotificationAfterRotation(forged, undefined, outTradeNo));
      expect(again).toMatchObject({ outcome: false, counts: { AlipayCalls: 0 } });
    }
    // The genuine one still verifies with what the probe learned.
    expect(alipay.verifyNotification(notification)).toBe(true);
  });

  it("a certificate that does not chain to the root bundle is refused: counted, the answer unverified, not fetched again for a minute", async () => {
    const alipay = gateway();
    const trade = await paidTrade(alipay);
    sim.rotateCertificate({ untrusted: true });
    const refused = await counted(() => alipay.query(trade.outTradeNo));
    expect(refused.outcome).toBeInstanceOf(AlipayUnavailableError);
    expect((refused.outcome as Error).message).toMatch(/does not chain to the configured root/);
    expect(refused.counts).toEqual({ AlipayCalls: 2, AlipayCallsFailed: 1, AlipayCertificatesLearned: 0, AlipayCertificatesRefused: 1 });
    const again = await counted(() => alipay.query(trade.outTradeNo));
    expect(again.outcome).toBeInstanceOf(AlipayUnavailableError);
    expect(again.counts).toEqual({ AlipayCalls: 1, AlipayCallsFailed: 1, AlipayCertificatesLearned: 0, AlipayCertificatesRefused: 0 });
  });
});
