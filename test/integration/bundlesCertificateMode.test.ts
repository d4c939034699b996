// Certificate mode (公钥证书) in the deployable bundles, where alipay-sdk's own certificate code is
// stubbed out (esbuild.config.cjs): the bundled functions sign app_cert_sn and alipay_root_cert_sn
// (computed with node:crypto), the simulator in certificate mode accepts them, and answers and
// notifications verify with the key of Alipay's certificate. Also GBK notifications in the bundle.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getPayment } from "../../lib/payments/repository.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { gbkFormBody } from "../../simulator/notifier.js";
import { type Handler, lambdaContext, loadBundles, notifyEvent, orderStringEvent, removeBundles, sqsEvent } from "./bundled.js";
import { useStack, waitFor } from "./harness.js";

const outDir = join(projectRoot, ".esbuild", "bundles-cert-test");
const t = useStack({ alipayCertificateMode: true });
const handlers: Record<string, Handler> = {};
const context = lambdaContext("bundle-cert-test");

beforeAll(() => loadBundles(outDir, ["getOrderString", "checkPayment", "alipayNotify"], handlers));
afterAll(() => removeBundles(outDir));

/** A created payment and, from the bundled getOrderString, its order string. */
async function bundledOrderString(user: string, amount: number, subject = "Bundled certificate mode") {
  const created = await t.createPayment({ userId: user, amount, subject });
  expect(created.status).toBe(201);
  const answer = await handlers.getOrderString!(orderStringEvent(user, created.body.paymentId), context);
  expect(answer.statusCode, answer.body).toBe(201);
  return { paymentId: created.body.paymentId as string, ...(JSON.parse(answer.body) as { outTradeNo: string; orderString: string }) };
}

/** The simulator's first notification of a trade, held back from the stack (dropped) so the bundle gets it. */
async function heldNotification(outTradeNo: string): Promise<{ params: Record<string, string> }> {
  const [sent] = await waitFor(
    async () => {
      const all = (await t.sim(`/sim/notifications?outTradeNo=${outTradeNo}`)).body as Array<{ params: Record<string, string> }>;
      return all.length > 0 && all;
    },
    { what: "a notification" },
  );
  return sent!;
}

describe("Lambda bundles in certificate mode", () => {
  it("sign both SNs into the order string, settle by query and by notification with the key of Alipay's certificate", async () => {
    expect(t.stack.functionEnv.ALIPAY_APP_CERT).toMatch(/^file:/);
    const byQuery = await bundledOrderString("bundle-cert", 321);
    const signed = new URLSearchParams(byQuery.orderString);
    expect(signed.get("app_cert_sn")).toMatch(/^[0-9a-f]{32}$/);
    expect(signed.get("alipay_root_cert_sn")).toMatch(/^[0-9a-f]{32}(_[0-9a-f]{32})*$/);
    await t.sim("/sim/scenario", { outTradeNo: byQuery.outTradeNo, dropFirst: 100 });
    // The simulator's certificate-mode app refuses an order string without the right SNs.
    expect((await t.sim("/sim/pay", { orderString: byQuery.orderString })).status).toBe(200);
    const checked = await handlers.checkPayment!(sqsEvent({ paymentId: byQuery.paymentId }), context);
    expect(checked.batchItemFailures).toEqual([]);
    expect(await getPayment(byQuery.paymentId)).toMatchObject({ status: "PAID", paidVia: "query" });

    const byNotify = await bundledOrderString("bundle-cert", 654);
    await t.sim("/sim/scenario", { outTradeNo: byNotify.outTradeNo, dropFirst: 100 });
    await t.sim("/sim/pay", { orderString: byNotify.orderString });
    const sent = await heldNotification(byNotify.outTradeNo);
    const notify = (params: Record<string, string>) => handlers.alipayNotify!(notifyEvent(new URLSearchParams(params).toString()), context);
    expect((await notify({ ...sent.params, total_amount: "99.00" })).body).toBe("failure");
    expect((await notify(sent.params)).body).toBe("success");
    expect(await getPayment(byNotify.paymentId)).toMatchObject({ status: "PAID", paidVia: "notify" });
  });

  it("accept a GBK-encoded notification (charset=gbk), verified over its GBK bytes", async () => {
    await t.withAppMode({ notifyCharset: "gbk" }, async () => {
      const gbk = await bundledOrderString("bundle-cert", 987, "会员年费 中文订单");
      await t.sim("/sim/scenario", { outTradeNo: gbk.outTradeNo, dropFirst: 100 });
      await t.sim("/sim/pay", { orderString: gbk.orderString });
      // The body as the simulator sent it: GBK percent-encoded (recorded params are decoded).
      const sent = await heldNotification(gbk.outTradeNo);
      expect(sent.params.charset).toBe("gbk");
      const body = gbkFormBody(sent.params);
      expect(body).toContain("subject=%BB%E1%D4%B1%C4%EA%B7%D1+");
      expect((await handlers.alipayNotify!(notifyEvent(body), context)).body).toBe("success");
      expect(await getPayment(gbk.paymentId)).toMatchObject({ status: "PAID", paidVia: "notify" });
    });
  });
});

// Containers started after the rotation (bundles loaded again: their own module state), so the
// notify function's probe has not been used by the forged notification above.
describe("Lambda bundles in certificate mode, after Alipay rotates its certificate", () => {
  const freshDir = join(projectRoot, ".esbuild", "bundles-cert-rotation-test");
  const fresh: Record<string, Handler> = {};
  beforeAll(() => loadBundles(freshDir, ["checkPayment", "alipayNotify"], fresh));
  afterAll(() => removeBundles(freshDir));

  it("settle by query and by notification (the download and the chain check in the bundle)", async () => {
    const rotated = await t.sim("/sim/certificates/rotate", {});
    expect(rotated.status).toBe(200);
    const byQuery = await bundledOrderString("bundle-cert", 432);
    await t.sim("/sim/scenario", { outTradeNo: byQuery.outTradeNo, dropFirst: 100 });
    await t.sim("/sim/pay", { orderString: byQuery.orderString });
    const checked = await fresh.checkPayment!(sqsEvent({ paymentId: byQuery.paymentId }), context);
    expect(checked.batchItemFailures).toEqual([]);
    expect(await getPayment(byQuery.paymentId)).toMatchObject({ status: "PAID", paidVia: "query" });

    const byNotify = await bundledOrderString("bundle-cert", 765);
    await t.sim("/sim/scenario", { outTradeNo: byNotify.outTradeNo, dropFirst: 100 });
    await t.sim("/sim/pay", { orderString: byNotify.orderString });
    const sent = await heldNotification(byNotify.outTradeNo);
    expect((await fresh.alipayNotify!(notifyEvent(new URLSearchParams(sent.params).toString()), context)).body).toBe("success");
    expect(await getPayment(byNotify.paymentId)).toMatchObject({ status: "PAID", paidVia: "notify" });
  });
});
