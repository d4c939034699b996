// Paths that cannot be percent-decoded (issue 17): API Gateway answers them 400 without calling a
// function; the local HTTP API did too little (a URIError, answered 500). And whatever path
// parameters reach a handler, it answers a stable 4xx, never a 500.
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { handler as cancelPayment } from "../../functions/cancelPayment.js";
import { handler as createRefund } from "../../functions/createRefund.js";
import { handler as getAppPayment } from "../../functions/getAppPayment.js";
import { handler as getOrderString } from "../../functions/getOrderString.js";
import { handler as getPayment } from "../../functions/getPayment.js";
import { handler as getEvents } from "../../functions/getEvents.js";
import { handler as getRefund } from "../../functions/getRefund.js";
import { handler as redeliverEvent } from "../../functions/redeliverEvent.js";
import { errorCatalogue } from "../../lib/api/errors.js";
import { identityOf } from "../../local/httpApi.js";
import { useStack } from "./harness.js";

const t = useStack();

/** Malformed: a % without two hex digits, overlong UTF-8 (/ as C0 AF), a cut-off sequence, a lone %. */
const malformed = ["%ZZ", "%C0%AF", "%E4%B8", "%", "abc%2", "pay%G0"];

const expectPathInvalid = (answer: { status: number; body: any }, what: string) => {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(400);
  expect(answer.body).toEqual({ code: "path_invalid", message: errorCatalogue.path_invalid.description });
};

describe("a path that cannot be percent-decoded", () => {
  it("answers 400 path_invalid on every business route, signed or not", async () => {
    const shop = t.business("shop");
    const { body: payment } = await t.createPayment({ userId: "path-user" });
    for (const id of malformed) {
      expectPathInvalid(await shop.request("GET", `/v1/payments/${id}`), `GET ${id}`);
      expectPathInvalid(await shop.request("POST", `/v1/payments/${id}/cancel`), `cancel ${id}`);
      expectPathInvalid(await shop.request("GET", `/v1/payments/${id}/refunds`), `refunds ${id}`);
      expectPathInvalid(await shop.request("GET", `/v1/payments/${payment.paymentId}/refunds/${id}`), `refund ${id}`);
      expectPathInvalid(
        await shop.request("POST", `/v1/payments/${id}/refunds`, { body: { amount: 1, reason: "r" }, headers: { "idempotency-key": "k" } }),
        `create refund ${id}`,
      );
      expectPathInvalid(await t.api(`/v1/payments/${id}`), `unsigned GET ${id}`);
    }
    // Nothing happened to the payment whose refunds were asked for.
    expect((await shop.getPayment(payment.paymentId)).body).toMatchObject({ status: "OPEN", attempts: [] });
  });

  it("answers 400 path_invalid on the app routes", async () => {
    const token = await t.token("path-app-user");
    for (const id of malformed) {
      expectPathInvalid(await t.api(`/v1/app/payments/${id}`, { token }), `read ${id}`);
      expectPathInvalid(await t.api(`/v1/app/payments/${id}/order-string`, { method: "POST", token }), `order-string ${id}`);
    }
  });

  it("still answers well-encoded ids as before (404 for ids we never issued)", async () => {
    const token = await t.token("path-app-user");
    const read = await t.api(`/v1/app/payments/${encodeURIComponent("%ZZ/λ")}`, { token });
    expect(read.status).toBe(404);
    expect(read.body.code).toBe("payment_not_found");
    expect((await t.business("shop").getPayment("%C0%AF")).status).toBe(404);
  });
});

describe("handlers given any path parameters (as API Gateway might pass them)", () => {
  const context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "paths-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:paths-test",
    memoryLimitInMB: "512",
    awsRequestId: "paths-test",
    logGroupName: "/aws/lambda/paths-test",
    logStreamName: "local",
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  } satisfies Context;
  const weird: unknown[] = [
    undefined,
    null,
    {},
    { paymentId: 42 },
    { paymentId: null },
    { paymentId: "" },
    { paymentId: "%ZZ" },
    { paymentId: "%C0%AF" },
    { paymentId: "%" },
    { paymentId: "\uFFFD\uFFFD" },
    { paymentId: "\uD800" },
    { paymentId: "a/b?c#d" },
    { paymentId: "x".repeat(10_000) },
    { paymentId: "pay%00", refundId: "\uDFFF" },
    { paymentId: ["pay1"] },
  ];

  it("answer a stable 4xx from the catalogue, never a 500", async () => {
    const credential = t.stack.businessCredentials.shop!;
    const iam = identityOf(credential.accessKeyId, {
      secretAccessKey: credential.secretAccessKey,
      roleArn: credential.roleArn,
      sessionName: credential.sessionName,
    });
    const business = (routeKey: string) => ({ routeKey, requestContext: { authorizer: { iam } }, headers: {} });
    const app = (routeKey: string) => ({
      routeKey,
      requestContext: { authorizer: { jwt: { claims: { sub: "path-user" }, scopes: [] } } },
      headers: {},
    });
    const routes: Array<[string, (event: unknown, context: Context) => Promise<unknown>, Record<string, unknown>]> = [
      ["getPayment", getPayment as never, business("GET /v1/payments/{paymentId}")],
      ["cancelPayment", cancelPayment as never, business("POST /v1/payments/{paymentId}/cancel")],
      ["getRefund", getRefund as never, business("GET /v1/payments/{paymentId}/refunds/{refundId}")],
      ["getEvents", getEvents as never, business("GET /v1/events/{eventId}")],
      ["redeliverEvent", redeliverEvent as never, business("POST /v1/events/{eventId}/redeliver")],
      [
        "createRefund",
        createRefund as never,
        {
          ...business("POST /v1/payments/{paymentId}/refunds"),
          headers: { "idempotency-key": "k-paths" },
          body: '{"amount":1,"reason":"r"}',
        },
      ],
      ["getOrderString", getOrderString as never, app("POST /v1/app/payments/{paymentId}/order-string")],
      ["getAppPayment", getAppPayment as never, app("GET /v1/app/payments/{paymentId}")],
    ];
    for (const [name, handler, base] of routes) {
      for (const pathParameters of weird) {
        const what = `${name} ${JSON.stringify(pathParameters)?.slice(0, 60)}`;
        const answer = (await handler({ ...base, pathParameters }, context)) as APIGatewayProxyStructuredResultV2;
        expect(answer.statusCode, what).toBeGreaterThanOrEqual(400);
        expect(answer.statusCode, `${what}: ${answer.body}`).toBeLessThan(500);
        const body = JSON.parse(answer.body ?? "{}") as { code: keyof typeof errorCatalogue; message: unknown };
        expect(errorCatalogue[body.code]?.status, what).toBe(answer.statusCode);
        expect(typeof body.message).toBe("string");
      }
    }
  });
});
