// The deployable bundles, not the TypeScript sources: each function built with esbuild.config.cjs
// (where alipay-sdk's HTTP client is swapped for lib/alipay/bundled/urllib.ts), loaded as Lambda
// loads it, and driven against the local stack and the Alipay simulator: the business system
// creates a payment, the app gets its order string, the check worker and the notify URL settle it.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getPayment } from "../../lib/payments/repository.js";
import { identityOf } from "../../local/httpApi.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import {
  esbuildOptions as options,
  type Handler,
  lambdaContext,
  loadBundles,
  notifyEvent,
  orderStringEvent,
  removeBundles,
  sqsEvent,
} from "./bundled.js";
import { businessOrderId, useStack, waitFor } from "./harness.js";

const outDir = join(projectRoot, ".esbuild", "bundles-test");
const t = useStack();
const handlers: Record<string, Handler> = {};
const context = lambdaContext("bundle-test");

beforeAll(() => loadBundles(outDir, ["createPayment", "getOrderString", "checkPayment", "alipayNotify"], handlers));
afterAll(() => removeBundles(outDir));

/** POST /v1/payments as API Gateway hands it over once its IAM authorizer has verified `system`'s signature. */
const createPaymentEvent = (system: string, body: unknown, key: string) => {
  const credential = t.stack.businessCredentials[system]!;
  return {
    version: "2.0",
    routeKey: "POST /v1/payments",
    rawPath: "/v1/payments",
    headers: { "idempotency-key": key, "content-type": "application/json" },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      http: { method: "POST", path: "/v1/payments" },
      authorizer: {
        iam: identityOf(credential.accessKeyId, {
          secretAccessKey: credential.secretAccessKey,
          roleArn: credential.roleArn,
          sessionName: credential.sessionName,
        }),
      },
    },
  };
};
describe("Lambda bundles", () => {
  it("stay small: no undici, no file-upload, AES or certificate code", () => {
    for (const name of Object.keys(handlers)) {
      expect(statSync(join(outDir, `${name}.cjs`)).size, name).toBeLessThan(150 * 1024);
    }
  });

  it("every function's bundle is under 150 KB, and none loads the S3 client at cold start (reconcile when it writes its report)", async () => {
    const names = readdirSync(join(projectRoot, "functions"))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => file.slice(0, -3));
    expect(names.length).toBeGreaterThanOrEqual(13);
    for (const name of names) {
      const outfile = join(outDir, `size-${name}.cjs`);
      const { metafile } = await build({
        ...options,
        entryPoints: [join(projectRoot, "functions", `${name}.ts`)],
        outfile,
        metafile: true,
        logLevel: "silent",
      });
      // The bundle itself, not its license notices (<name>.LEGAL.txt beside it).
      const output = Object.entries(metafile.outputs).find(([file]) => !file.endsWith(".LEGAL.txt"))?.[1];
      expect(output!.bytes, name).toBeLessThan(150 * 1024);
      const externals = output!.imports.filter((i) => i.external).map((i) => i.path);
      expect(externals.includes("@aws-sdk/client-s3"), `${name} bundles an S3 call`).toBe(name === "reconcile");
      // Cold start as Lambda does it: a fresh process loads the bundle; which @aws-sdk packages did it load?
      const loaded = execFileSync(
        process.execPath,
        [
          "-e",
          `require(${JSON.stringify(outfile)}); console.log(Object.keys(require.cache).filter((f) => f.includes("client-s3")).length)`,
        ],
        { env: { ...process.env, NODE_PATH: join(projectRoot, "node_modules") }, encoding: "utf8" },
      );
      expect(loaded.trim(), `${name} loads @aws-sdk/client-s3 at cold start`).toBe("0");
    }
  });

  it("create a payment for a business system, hand the app an order string the simulator accepts, and find its payment through alipay.trade.query", async () => {
    const input = { businessOrderId: businessOrderId("bundle"), amount: 4200, subject: "Bundled", userId: "bundle-user" };
    const key = `b-${input.businessOrderId}`;
    const created = await handlers.createPayment!(createPaymentEvent("shop", input, key), context);
    expect(created.statusCode, created.body).toBe(201);
    const payment = JSON.parse(created.body) as { paymentId: string; status: string; amount: number };
    expect(payment).toMatchObject({ status: "OPEN", amount: 4200 });
    const replay = await handlers.createPayment!(createPaymentEvent("shop", input, key), context);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers?.["idempotent-replayed"]).toBe("true");
    expect(JSON.parse(replay.body)).toEqual(payment);

    const first = await handlers.getOrderString!(orderStringEvent("bundle-user", payment.paymentId), context);
    expect(first.statusCode, first.body).toBe(201);
    const attempt = JSON.parse(first.body) as { outTradeNo: string; orderString: string; attemptNo: number };
    expect(attempt.attemptNo).toBe(1);
    const again = await handlers.getOrderString!(orderStringEvent("bundle-user", payment.paymentId), context);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body).orderString).toBe(attempt.orderString);
    expect((await handlers.getOrderString!(orderStringEvent("someone-else", payment.paymentId), context)).statusCode).toBe(404);

    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);

    // A gateway failure reaches the bundled HTTP client as an error: the message is retried.
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: attempt.outTradeNo, mode: "5xx", count: 1 });
    const failed = await handlers.checkPayment!(sqsEvent({ paymentId: payment.paymentId }), context);
    expect(failed.batchItemFailures).toHaveLength(1);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ status: "PENDING" }] });

    const checked = await handlers.checkPayment!(sqsEvent({ paymentId: payment.paymentId }), context);
    expect(checked.batchItemFailures).toEqual([]);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "PAID", paidVia: "query", attempts: [{ status: "PAID" }] });
  });

  it("refuse a caller that is no registered business system", async () => {
    const event = createPaymentEvent(
      "shop",
      { businessOrderId: businessOrderId("bundle"), amount: 100, subject: "Bundled", userId: "bundle-user" },
      `b-${Date.now()}`,
    );
    event.requestContext.authorizer.iam = {
      ...event.requestContext.authorizer.iam,
      userArn: "arn:aws:sts::000000000000:assumed-role/stranger/s",
    };
    const refused = await handlers.createPayment!(event, context);
    expect(refused.statusCode).toBe(403);
    expect(JSON.parse(refused.body).code).toBe("forbidden");
  });

  it("verify a genuine notification and refuse a forged one", async () => {
    const { payment, attempt } = await t.openPayment("bundle-user", 100);
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
    await t.sim("/sim/pay", { orderString: attempt.orderString });
    const [sent] = await waitFor(
      async () => {
        const all = (await t.sim(`/sim/notifications?outTradeNo=${attempt.outTradeNo}`)).body as Array<{ params: Record<string, string> }>;
        return all.length > 0 && all;
      },
      { what: "a notification" },
    );
    const notify = (params: Record<string, string>) => handlers.alipayNotify!(notifyEvent(new URLSearchParams(params).toString()), context);
    expect((await notify({ ...sent!.params, total_amount: "99.00" })).body).toBe("failure");
    expect((await getPayment(payment.paymentId))?.status).toBe("OPEN");
    expect((await notify(sent!.params)).body).toBe("success");
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "PAID", paidVia: "notify", attempts: [{ status: "PAID" }] });
  });
});
