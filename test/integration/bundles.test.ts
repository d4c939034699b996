// The deployable bundles, not the TypeScript sources: each function built with esbuild.config.cjs
// (where alipay-sdk's HTTP client is swapped for lib/alipay/bundled/urllib.ts), loaded as Lambda
// loads it, and driven against the local stack and the Alipay simulator.
import { mkdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getOrder } from "../../lib/orders/repository.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

const require = createRequire(import.meta.url);
const { options } = require("../../esbuild.config.cjs") as { options: Record<string, unknown> };
const outDir = join(projectRoot, ".esbuild", "bundles-test");
const t = useStack();
type Handler = (event: unknown, context: unknown) => Promise<any>;
const handlers: Record<string, Handler> = {};
const context = { awsRequestId: "bundle-test", getRemainingTimeInMillis: () => 30_000 };

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  for (const name of ["createOrder", "checkOrder", "alipayNotify"]) {
    const outfile = join(outDir, `${name}.cjs`);
    await build({ ...options, entryPoints: [join(projectRoot, "functions", `${name}.ts`)], outfile, logLevel: "silent" });
    handlers[name] = (require(outfile) as { handler: Handler }).handler;
  }
});
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const apiEvent = (user: string, body: unknown, key: string) => ({
  version: "2.0",
  routeKey: "POST /orders",
  rawPath: "/orders",
  headers: { "idempotency-key": key, "content-type": "application/json" },
  body: JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { http: { method: "POST", path: "/orders" }, authorizer: { jwt: { claims: { sub: user }, scopes: [] } } },
});
const sqsEvent = (body: unknown) => ({
  Records: [{
    messageId: `m-${Date.now()}`, receiptHandle: "r", body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: "1" }, messageAttributes: {}, eventSource: "aws:sqs",
  }],
});

describe("Lambda bundles", () => {
  it("stay small: no undici, no file-upload, AES or certificate code", () => {
    for (const name of Object.keys(handlers)) {
      expect(statSync(join(outDir, `${name}.cjs`)).size, name).toBeLessThan(400 * 1024);
    }
  });

  it("create an order string the simulator accepts, and find its payment through alipay.trade.query", async () => {
    const created = await handlers.createOrder!(apiEvent("bundle-user", { merchantOrderId: merchantOrderId(), amount: 4200, subject: "Bundled" }, `b-${Date.now()}`), context);
    expect(created.statusCode).toBe(201);
    const order = JSON.parse(created.body) as { orderId: string; orderString: string };
    await t.sim("/sim/scenario", { outTradeNo: order.orderId, dropFirst: 100 });
    expect((await t.sim("/sim/pay", { orderString: order.orderString })).status).toBe(200);

    // A gateway failure reaches the bundled HTTP client as an error: the message is retried.
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: order.orderId, mode: "5xx", count: 1 });
    const failed = await handlers.checkOrder!(sqsEvent({ orderId: order.orderId }), context);
    expect(failed.batchItemFailures).toHaveLength(1);
    expect((await getOrder(order.orderId))?.status).toBe("PENDING");

    const checked = await handlers.checkOrder!(sqsEvent({ orderId: order.orderId }), context);
    expect(checked.batchItemFailures).toEqual([]);
    expect((await getOrder(order.orderId))).toMatchObject({ status: "PAID", paidVia: "query" });
  });

  it("verify a genuine notification and refuse a forged one", async () => {
    const created = await t.createOrder("bundle-user", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Bundled" });
    await t.sim("/sim/scenario", { outTradeNo: created.body.orderId, dropFirst: 100 });
    await t.sim("/sim/pay", { orderString: created.body.orderString });
    const [attempt] = await waitFor(async () => {
      const sent = (await t.sim(`/sim/notifications?outTradeNo=${created.body.orderId}`)).body as Array<{ params: Record<string, string> }>;
      return sent.length > 0 && sent;
    }, { what: "a notification" });
    const notify = (params: Record<string, string>) =>
      handlers.alipayNotify!({ version: "2.0", rawPath: "/alipay/notify", headers: {}, body: new URLSearchParams(params).toString(), isBase64Encoded: false, requestContext: {} }, context);
    expect((await notify({ ...attempt!.params, total_amount: "99.00" })).body).toBe("failure");
    expect((await notify(attempt!.params)).body).toBe("success");
    expect((await getOrder(created.body.orderId))?.status).toBe("PAID");
  });
});
