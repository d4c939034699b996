// The emulated API Gateway's IAM authorizer verifies SigV4 for real: the HTTP API emulation is
// started on its own with stub routes whose "Lambda" echoes what API Gateway put into the event,
// and is called over HTTP by the business client and by hand-signed (and then tampered) requests.
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBusinessClient, type AwsCredentials } from "../../client/businessClient.js";
import { ensureBusinessCredentials, principalsByAccessKey, type BusinessCredentials } from "../../local/businessCredentials.js";
import { createDevAuth, type DevAuth } from "../../local/devAuth.js";
import { routesOf, startHttpApi, type IamPrincipal, type RouteTarget } from "../../local/httpApi.js";

const region = "ap-southeast-1";
const mismatch = /^The request signature we calculated does not match the signature you provided/;

const echo: RouteTarget = {
  definition: {
    name: "echo",
    http: [
      { method: "POST", path: "/v1/payments", auth: { kind: "iam" } },
      { method: "GET", path: "/v1/payments", auth: { kind: "iam" } },
      { method: "GET", path: "/v1/payments/{paymentId}", auth: { kind: "iam" } },
      { method: "POST", path: "/v1/payments/{paymentId}/cancel", auth: { kind: "iam" } },
      { method: "GET", path: "/v1/app/payments/{paymentId}", auth: { kind: "jwt", name: "mobileJwt" } },
      { method: "POST", path: "/alipay/notify", auth: undefined },
    ],
  },
  async invoke(event: any) {
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        authorizer: event.requestContext.authorizer ?? null,
        routeKey: event.routeKey,
        pathParameters: event.pathParameters ?? null,
        query: event.queryStringParameters ?? null,
        body: event.body ?? null,
      }),
    };
  },
};

let keysDir: string;
let server: Server;
let baseUrl: string;
let auth: DevAuth;
let credentials: BusinessCredentials;
let openApiFile: string;
const logs: string[] = [];
// Temporary credentials (an assumed role's session): the request must carry the session token.
const temporary = { accessKeyId: "ASIATEMPORARYLOCAL01", secretAccessKey: "temporary-secret", sessionToken: "session-token-1" };

beforeAll(async () => {
  keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-sigv4-"));
  credentials = ensureBusinessCredentials(keysDir);
  const principals = new Map<string, IamPrincipal>(principalsByAccessKey(credentials));
  principals.set(temporary.accessKeyId, {
    secretAccessKey: temporary.secretAccessKey,
    sessionToken: temporary.sessionToken,
    roleArn: "arn:aws:iam::123456789012:role/service/shop-payments-caller",
    sessionName: "i-0abc",
  });
  openApiFile = join(keysDir, "openapi.json");
  auth = await createDevAuth("http://127.0.0.1/_dev", ["alipay-pay"]);
  server = await startHttpApi({
    port: 0,
    routes: routesOf([echo]),
    auth,
    iam: { region, principals },
    openApiFile,
    log: (line) => logs.push(line),
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  rmSync(keysDir, { recursive: true, force: true });
});

const shop = () => ({ accessKeyId: credentials.shop!.accessKeyId, secretAccessKey: credentials.shop!.secretAccessKey });
const client = (creds: AwsCredentials = shop(), signingRegion = region) =>
  createBusinessClient({ baseUrl, region: signingRegion, credentials: creds });

/** Signs a request with the AWS SDK's signer; the caller may then change what it sends. */
async function sign(
  method: string,
  path: string,
  options: { body?: string; query?: Record<string, string>; date?: Date; creds?: AwsCredentials; headers?: Record<string, string> } = {},
) {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const signer = new SignatureV4({ service: "execute-api", region, credentials: options.creds ?? shop(), sha256: Sha256 });
  const signed = await signer.sign(
    {
      method,
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: options.query ?? {},
      headers: { host: url.host, "content-type": "application/json", ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
    },
    options.date ? { signingDate: options.date } : {},
  );
  const { host: _host, ...headers } = signed.headers;
  return { url: url.toString(), method, headers: headers as Record<string, string>, body: options.body };
}

async function send(request: { url: string; method: string; headers: Record<string, string>; body?: string | undefined }) {
  const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as any };
}

describe("aws_iam routes (SigV4, verified by the emulated API Gateway)", () => {
  it("passes a correctly signed request and puts API Gateway's IAM identity into the event", async () => {
    const response = await client().createPayment(
      { businessOrderId: "order-42", amount: 1234, subject: "Coffee beans", userId: "alice", metadata: { cart: "c-1" } },
      "key-1",
    );
    expect(response.status).toBe(200);
    expect(response.body.routeKey).toBe("POST /v1/payments");
    expect(JSON.parse(response.body.body)).toEqual({
      businessOrderId: "order-42",
      amount: 1234,
      subject: "Coffee beans",
      userId: "alice",
      metadata: { cart: "c-1" },
    });
    const iam = response.body.authorizer.iam;
    expect(Object.keys(response.body.authorizer)).toEqual(["iam"]);
    expect(iam).toEqual({
      accessKey: credentials.shop!.accessKeyId,
      accountId: "000000000000",
      callerId: expect.stringMatching(/^AROA[A-Z2-7]{17}:shop-local$/),
      cognitoIdentity: null,
      principalOrgId: null,
      userArn: "arn:aws:sts::000000000000:assumed-role/shop-payments-caller/shop-local",
      userId: iam.callerId,
    });
    const other = await client({ ...credentials.membership! }).getPayment("pay_1");
    expect(other.status).toBe(200);
    expect(other.body.authorizer.iam.userArn).toBe("arn:aws:sts::000000000000:assumed-role/membership-payments-caller/membership-local");
    expect(other.body.authorizer.iam.callerId).not.toBe(iam.callerId);
  });

  it("canonicalises the path and the query string as SigV4 does", async () => {
    const found = await client().findPayment("order 42/ü+&=*");
    expect(found.status).toBe(200);
    expect(found.body.query).toEqual({ businessOrderId: "order 42/ü+&=*" });
    const several = await client().request("GET", "/v1/payments", { query: { z: "1", a: ["2", "1"], "b c": "" } });
    expect(several.status).toBe(200);
    const odd = await client().getPayment("pay 1(x)");
    expect(odd.status).toBe(200);
    expect(odd.body.pathParameters).toEqual({ paymentId: "pay 1(x)" });
    const cancel = await client().cancelPayment("pay_1");
    expect(cancel.status).toBe(200);
  });

  it("accepts temporary credentials with their session token, refuses a wrong or missing token", async () => {
    const ok = await client(temporary).getPayment("pay_1");
    expect(ok.status).toBe(200);
    expect(ok.body.authorizer.iam.userArn).toBe("arn:aws:sts::123456789012:assumed-role/shop-payments-caller/i-0abc");
    expect(ok.body.authorizer.iam.accountId).toBe("123456789012");
    const wrong = await client({ ...temporary, sessionToken: "session-token-2" }).getPayment("pay_1");
    expect(wrong).toMatchObject({ status: 403, body: { message: "The security token included in the request is invalid." } });
    const none = await client({ accessKeyId: temporary.accessKeyId, secretAccessKey: temporary.secretAccessKey }).getPayment("pay_1");
    expect(none).toMatchObject({ status: 403, body: { message: "The security token included in the request is invalid." } });
    const extra = await client({ ...shop(), sessionToken: "not-expected" }).getPayment("pay_1");
    expect(extra.status).toBe(403);
  });

  it("refuses a wrong secret", async () => {
    // Another last character (a secret that already ends in "x" would otherwise stay right).
    const secret = shop().secretAccessKey;
    const wrong = `${secret.slice(0, -1)}${secret.endsWith("x") ? "y" : "x"}`;
    const response = await client({ ...shop(), secretAccessKey: wrong }).getPayment("pay_1");
    expect(response.status).toBe(403);
    expect(response.body.message).toMatch(mismatch);
  });

  it("refuses an unknown access key", async () => {
    const response = await client({ accessKeyId: "AKIAUNKNOWNUNKNOWN00", secretAccessKey: shop().secretAccessKey }).getPayment("pay_1");
    expect(response).toMatchObject({ status: 403, body: { message: "The security token included in the request is invalid." } });
  });

  it("refuses unsigned requests and other kinds of credentials", async () => {
    const unsigned = await send({ url: `${baseUrl}/v1/payments/pay_1`, method: "GET", headers: {} });
    expect(unsigned).toEqual({ status: 403, body: { message: "Forbidden" } });
    const token = await auth.issue("alice");
    const bearer = await send({ url: `${baseUrl}/v1/payments/pay_1`, method: "GET", headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(403);
    expect(bearer.body.message).toMatch(/^Authorization header requires 'Credential' parameter/);
    // A valid signature whose x-amz-date header was dropped.
    const request = await sign("GET", "/v1/payments/pay_1");
    delete request.headers["x-amz-date"];
    const undated = await send(request);
    expect(undated.status).toBe(403);
    expect(undated.body.message).toMatch(/requires existence of either a 'X-Amz-Date' or a 'Date' header/);
  });

  it("refuses a signature older or newer than 15 minutes, even when the signature itself is right", async () => {
    const old = await send(await sign("GET", "/v1/payments/pay_1", { date: new Date(Date.now() - 20 * 60_000) }));
    expect(old.status).toBe(403);
    expect(old.body.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const future = await send(await sign("GET", "/v1/payments/pay_1", { date: new Date(Date.now() + 20 * 60_000) }));
    expect(future.status).toBe(403);
    expect(future.body.message).toMatch(/^Signature not yet current: /);
    // Within the window is fine (clock skew of a few minutes).
    const skewed = await send(await sign("GET", "/v1/payments/pay_1", { date: new Date(Date.now() - 5 * 60_000) }));
    expect(skewed.status).toBe(200);
  });

  it("refuses a credential scope of another date, region or service", async () => {
    const request = await sign("GET", "/v1/payments/pay_1");
    const otherDate = {
      ...request,
      headers: { ...request.headers, authorization: request.headers.authorization!.replace(/\/\d{8}\//, "/20200101/") },
    };
    expect((await send(otherDate)).body.message).toMatch(/^Date in Credential scope does not match/);
    const otherRegion = await client(shop(), "us-east-1").getPayment("pay_1");
    expect(otherRegion).toMatchObject({
      status: 403,
      body: { message: "Credential should be scoped to a valid region, not 'us-east-1'. " },
    });
    const signer = new SignatureV4({ service: "lambda", region, credentials: shop(), sha256: Sha256 });
    const url = new URL("/v1/payments/pay_1", baseUrl);
    const lambda = await signer.sign({
      method: "GET",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host },
    });
    const { host: _host, ...headers } = lambda.headers;
    const otherService = await send({ url: url.toString(), method: "GET", headers });
    expect(otherService).toMatchObject({
      status: 403,
      body: { message: "Credential should be scoped to correct service: 'execute-api'. " },
    });
  });

  it("refuses a body changed after signing (with or without x-amz-content-sha256)", async () => {
    const body = JSON.stringify({ businessOrderId: "order-42", amount: 1234, subject: "Coffee", userId: "alice" });
    const request = await sign("POST", "/v1/payments", { body, headers: { "idempotency-key": "k" } });
    expect((await send(request)).status).toBe(200);
    const tampered = body.replace("1234", "1");
    const withHash = await send({ ...request, body: tampered });
    expect(withHash.status).toBe(403);
    expect(withHash.body.message).toMatch(mismatch);
    const { "x-amz-content-sha256": _hash, ...withoutHashHeaders } = request.headers;
    expect((await send({ ...request, headers: withoutHashHeaders })).status).toBe(403); // x-amz-content-sha256 was signed
    // Signed without the header at all: the verifier hashes the body it received.
    const signer = new SignatureV4({ service: "execute-api", region, credentials: shop(), sha256: Sha256, applyChecksum: false });
    const url = new URL("/v1/payments", baseUrl);
    const bare = await signer.sign({
      method: "POST",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host, "content-type": "application/json" },
      body,
    });
    const { host: _h, ...bareHeaders } = bare.headers;
    expect(bareHeaders["x-amz-content-sha256"]).toBeUndefined();
    expect((await send({ url: url.toString(), method: "POST", headers: bareHeaders, body })).status).toBe(200);
    const bareTampered = await send({ url: url.toString(), method: "POST", headers: bareHeaders, body: tampered });
    expect(bareTampered.status).toBe(403);
    expect(bareTampered.body.message).toMatch(mismatch);
  });

  it("refuses a changed path, query, method or signed header", async () => {
    const request = await sign("GET", "/v1/payments/pay_1", { headers: { "idempotency-key": "k" } });
    expect((await send(request)).status).toBe(200);
    const otherPath = await send({ ...request, url: request.url.replace("pay_1", "pay_2") });
    expect(otherPath.status).toBe(403);
    expect(otherPath.body.message).toMatch(mismatch);
    const query = await sign("GET", "/v1/payments", { query: { businessOrderId: "order-42" } });
    expect((await send(query)).status).toBe(200);
    expect((await send({ ...query, url: query.url.replace("order-42", "order-43") })).status).toBe(403);
    expect((await send({ ...query, url: `${query.url}&extra=1` })).status).toBe(403);
    const otherMethod = await send({ ...query, method: "POST", body: "" });
    expect(otherMethod.status).toBe(403);
    expect(otherMethod.body.message).toMatch(mismatch);
    expect((await send({ ...request, headers: { ...request.headers, "idempotency-key": "other" } })).status).toBe(403);
    // host must be signed
    const unsignedHost = {
      ...request,
      headers: { ...request.headers, authorization: request.headers.authorization!.replace("SignedHeaders=", "SignedHeaders=x-") },
    };
    expect((await send(unsignedHost)).status).toBe(403);
  });
});

describe("the other routes", () => {
  it("keeps the JWT authorizer working and public routes public", async () => {
    const token = await auth.issue("alice");
    const ok = await send({ url: `${baseUrl}/v1/app/payments/pay_1`, method: "GET", headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.authorizer.jwt.claims.sub).toBe("alice");
    expect(ok.body.authorizer.iam).toBeUndefined();
    expect((await send({ url: `${baseUrl}/v1/app/payments/pay_1`, method: "GET", headers: {} })).status).toBe(401);
    // A SigV4 signature is no bearer token.
    expect((await client().request("GET", "/v1/app/payments/pay_1")).status).toBe(401);
    const notify = await send({ url: `${baseUrl}/alipay/notify`, method: "POST", headers: {} });
    expect(notify).toMatchObject({ status: 200, body: { authorizer: null } });
  });

  it("serves the OpenAPI document without auth, 404 while it is missing", async () => {
    expect((await send({ url: `${baseUrl}/openapi.json`, method: "GET", headers: {} })).status).toBe(404);
    const document = { openapi: "3.1.0", info: { title: "test", version: "1" }, paths: {} };
    writeFileSync(openApiFile, JSON.stringify(document));
    const response = await fetch(`${baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual(document);
  });
});

describe("local business credentials", () => {
  it("generates them once (0600), keeps them, and appends new systems", () => {
    const file = join(keysDir, "business-credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.keys(credentials)).toEqual(["shop", "membership"]);
    expect(credentials.shop).toEqual({
      accessKeyId: expect.stringMatching(/^AKIA[A-Z2-7]{16}$/),
      secretAccessKey: expect.stringMatching(/^[A-Za-z0-9+/]{40}$/),
      roleArn: "arn:aws:iam::000000000000:role/shop-payments-caller",
      sessionName: "shop-local",
    });
    expect(credentials.shop!.accessKeyId).not.toBe(credentials.membership!.accessKeyId);
    expect(ensureBusinessCredentials(keysDir)).toEqual(credentials);
    const more = ensureBusinessCredentials(keysDir, ["shop", "tickets"]);
    expect(more.shop).toEqual(credentials.shop);
    expect(more.membership).toEqual(credentials.membership);
    expect(more.tickets!.roleArn).toBe("arn:aws:iam::000000000000:role/tickets-payments-caller");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(more);
    expect(() => ensureBusinessCredentials(keysDir, ["no/slash"])).toThrow(/business system id/);
  });
});
