// The business client's requests, captured instead of sent: what it signs (SigV4, execute-api, the
// region's scope, host / x-amz-date / payload hash / its own headers) and that the emulated API
// Gateway's verifier accepts exactly that request and nothing changed from it.
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { createBusinessClient } from "../../client/businessClient.js";
import { verifySigV4, type IamOptions } from "../../local/httpApi.js";

const credentials = { accessKeyId: "AKIAEXAMPLEEXAMPLE01", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const iam: IamOptions = {
  region: "ap-southeast-1",
  principals: new Map([
    [
      credentials.accessKeyId,
      { ...credentials, roleArn: "arn:aws:iam::000000000000:role/shop-payments-caller", sessionName: "shop-local" },
    ],
  ]),
};

interface Captured {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function capturingClient(options: { baseUrl?: string; answer?: Response } = {}) {
  const sent: Captured[] = [];
  const client = createBusinessClient({
    baseUrl: options.baseUrl ?? "https://abc123.execute-api.ap-southeast-1.amazonaws.com",
    region: "ap-southeast-1",
    credentials,
    fetch: (async (input: URL, init: RequestInit) => {
      sent.push({
        url: new URL(input),
        method: init.method!,
        headers: init.headers as Record<string, string>,
        body: init.body as string | undefined,
      });
      return options.answer ?? new Response(JSON.stringify({ ok: true }), { status: 201, headers: { "content-type": "application/json" } });
    }) as typeof fetch,
  });
  return { client, sent };
}

/** The request as the server receives it: Host from the URL, the path and query as sent. */
function received(
  request: Captured,
  change: Partial<{ url: string; method: string; headers: Record<string, string> }> = {},
): IncomingMessage {
  const url = new URL(change.url ?? request.url.toString());
  const headers: Record<string, string> = { host: url.host };
  for (const [k, v] of Object.entries(change.headers ?? request.headers)) headers[k.toLowerCase()] = v;
  return { method: change.method ?? request.method, url: `${url.pathname}${url.search}`, headers } as unknown as IncomingMessage;
}

const verify = (request: IncomingMessage, body: string | undefined) => verifySigV4(request, Buffer.from(body ?? ""), iam, Date.now());

describe("business client signing", () => {
  it("signs createPayment with SigV4 for execute-api, and the verifier accepts it", async () => {
    const { client, sent } = capturingClient();
    const response = await client.createPayment(
      { businessOrderId: "order-42", amount: 1234, subject: "Coffee beans", userId: "alice" },
      "key-1",
    );
    expect(response).toEqual({ status: 201, headers: { "content-type": "application/json" }, body: { ok: true } });
    const [request] = sent as [Captured];
    expect(request.method).toBe("POST");
    expect(request.url.toString()).toBe("https://abc123.execute-api.ap-southeast-1.amazonaws.com/v1/payments");
    expect(JSON.parse(request.body!)).toEqual({ businessOrderId: "order-42", amount: 1234, subject: "Coffee beans", userId: "alice" });
    expect(request.headers["idempotency-key"]).toBe("key-1");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers.host).toBeUndefined(); // fetch sends the URL's host, the one signed
    expect(request.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/\\d{8}/ap-southeast-1/execute-api/aws4_request, ` +
          "SignedHeaders=content-type;host;idempotency-key;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$",
      ),
    );
    expect(request.headers["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
    const verdict = await verify(received(request), request.body);
    expect(verdict).toEqual({
      ok: true,
      identity: expect.objectContaining({ userArn: "arn:aws:sts::000000000000:assumed-role/shop-payments-caller/shop-local" }),
    });
  });

  it("builds each helper's request and every one verifies; any change does not", async () => {
    const { client, sent } = capturingClient({ baseUrl: "http://127.0.0.1:3000/" });
    await client.getPayment("pay 1/x");
    await client.findPayment("order 42&more+");
    await client.cancelPayment("pay_1");
    await client.createRefund("pay_1", { amount: 100, reason: "damaged" }, "refund-1");
    await client.request("GET", "/v1/payments", { query: { b: ["2", "1"], a: "x y", skipped: undefined } });
    expect(sent.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)).toEqual([
      "GET /v1/payments/pay%201%2Fx",
      "GET /v1/payments?businessOrderId=order%2042%26more%2B",
      "POST /v1/payments/pay_1/cancel",
      "POST /v1/payments/pay_1/refunds",
      "GET /v1/payments?b=2&b=1&a=x%20y",
    ]);
    expect(JSON.parse(sent[3]!.body!)).toEqual({ amount: 100, reason: "damaged" });
    expect(sent[3]!.headers["idempotency-key"]).toBe("refund-1");
    for (const request of sent) {
      expect(await verify(received(request), request.body)).toMatchObject({ ok: true });
      const changedPath = await verify(received(request, { url: request.url.toString().replace("pay", "pey") }), request.body);
      expect(changedPath).toMatchObject({ ok: false });
      expect(await verify(received(request), `${request.body ?? ""} `)).toMatchObject({ ok: false });
    }
  });

  it("honours a base path and returns non-JSON answers as text", async () => {
    const { client, sent } = capturingClient({
      baseUrl: "https://pay.example.com/business/",
      answer: new Response("Service Unavailable", { status: 503, headers: { "content-type": "text/plain" } }),
    });
    const response = await client.getPayment("pay_1");
    expect(response).toMatchObject({ status: 503, body: "Service Unavailable" });
    expect(sent[0]!.url.toString()).toBe("https://pay.example.com/business/v1/payments/pay_1");
    expect(await verify(received(sent[0]!), undefined)).toMatchObject({ ok: true });
  });

  it("is refused by the verifier when signed with another secret", async () => {
    const { sent } = capturingClient();
    const wrong = createBusinessClient({
      baseUrl: "https://abc123.execute-api.ap-southeast-1.amazonaws.com",
      region: "ap-southeast-1",
      credentials: { ...credentials, secretAccessKey: "not-the-secret" },
      fetch: (async (input: URL, init: RequestInit) => {
        sent.push({
          url: new URL(input),
          method: init.method!,
          headers: init.headers as Record<string, string>,
          body: init.body as string | undefined,
        });
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      }) as typeof fetch,
    });
    await wrong.getPayment("pay_1");
    expect(await verify(received(sent[0]!), undefined)).toMatchObject({ ok: false, message: expect.stringMatching(/does not match/) });
  });
});
