// Keys checked at cold start (issue 10): a function that holds the Alipay keys reads and checks them
// before its first invocation's handler runs, so a key that cannot work fails the first request with
// an AlipayKeyError naming the setting, not whichever later request first signs or verifies.
import { generateKeyPairSync } from "node:crypto";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { describe, expect, it, vi } from "vitest";
import { handler } from "../../functions/alipayNotify.js";
import { handler as orderStringHandler } from "../../functions/getOrderString.js";
import { resetConfig } from "../../lib/config.js";
import { logger } from "../../lib/observability.js";
import { useAlipayFunctionEnv } from "./functionEnv.js";

const app = generateKeyPairSync("rsa", { modulusLength: 2048 });
const alipay = generateKeyPairSync("rsa", { modulusLength: 2048 });
const appPublicPem = String(app.publicKey.export({ type: "spki", format: "pem" }));
const { write } = useAlipayFunctionEnv({
  // The app's public key where its private key belongs: the classic mix-up.
  appPrivateKeyPem: appPublicPem,
  alipayPublicKeyPem: String(alipay.publicKey.export({ type: "spki", format: "pem" })),
});

const garbage = { body: "hello", isBase64Encoded: false, headers: {} } as unknown as APIGatewayProxyEventV2;
const context = { functionName: "alipayNotify", awsRequestId: "r1" } as Context;

describe("an API function on a cold start with an unusable key", () => {
  it("answers the stable 500 internal_error, never the key, and logs the AlipayKeyError", async () => {
    const errors = vi.spyOn(logger, "error");
    const event = {
      version: "2.0",
      routeKey: "POST /v1/app/payments/{paymentId}/order-string",
      rawPath: "/v1/app/payments/pay_1/order-string",
      headers: {},
      pathParameters: { paymentId: "pay_1" },
      isBase64Encoded: false,
      requestContext: { http: { method: "POST" }, authorizer: { jwt: { claims: { sub: "user-1" }, scopes: [] } } },
    } as unknown as Parameters<typeof orderStringHandler>[0];
    const response = await orderStringHandler(event, { functionName: "getOrderString", awsRequestId: "r0" } as Context);
    expect(response).toMatchObject({ statusCode: 500, headers: { "content-type": "application/json" } });
    expect(JSON.parse((response as { body: string }).body)).toEqual({ code: "internal_error", message: expect.any(String) });
    expect(JSON.stringify(response)).not.toMatch(/ALIPAY_APP_PRIVATE_KEY|BEGIN/);
    const logged = errors.mock.calls.map((call) => call[1] as { error?: Error } | undefined).find((extra) => extra?.error);
    expect(logged?.error?.name).toBe("AlipayKeyError");
    expect(JSON.stringify(errors.mock.calls)).not.toContain(appPublicPem.split("\n")[1]!.slice(0, 16));
    errors.mockRestore();
  });
});

describe("alipayNotify on a cold start with an unusable key", () => {
  it("fails its first invocation with the AlipayKeyError, though the request itself (garbage) needs no key", async () => {
    const errors = vi.spyOn(logger, "error");
    const response = await handler(garbage, context);
    expect(response).toMatchObject({ statusCode: 500, body: "failure" });
    const logged = errors.mock.calls.map((call) => call[1] as { error?: Error } | undefined).find((extra) => extra?.error);
    expect(logged?.error?.name).toBe("AlipayKeyError");
    expect(logged?.error?.message).toMatch(/ALIPAY_APP_PRIVATE_KEY is a public key/);
    // Named, never printed.
    const body = appPublicPem.split("\n")[1]!;
    expect(JSON.stringify(errors.mock.calls)).not.toContain(body.slice(0, 16));
    errors.mockRestore();
  });

  it("checks again on the next invocation, and passes once the key is right", async () => {
    expect(await handler(garbage, context)).toMatchObject({ statusCode: 500 });
    process.env.ALIPAY_APP_PRIVATE_KEY = write("app.pem", String(app.privateKey.export({ type: "pkcs8", format: "pem" })));
    resetConfig();
    // The garbage is now refused as what it is: malformed, answered 200 failure (Alipay's retry is pointless).
    expect(await handler(garbage, context)).toMatchObject({ statusCode: 200, body: "failure" });
  });
});
