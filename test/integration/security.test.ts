// Hostile callers end to end, over HTTP: the app cannot set or change an amount; a business system
// cannot see, cancel or hear of another's payments; an app user cannot see another's; the business
// routes refuse anything not correctly signed by a registered system's role; generated bad input
// always gets a stable 4xx (never a 5xx, never a half-written record); forged or mismatched
// notifications change nothing and are counted.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isValidAmountFen } from "../../lib/money.js";
import { metricCounts } from "../../lib/observability.js";
import { derivePaymentId, isPaymentId } from "../../lib/payments/model.js";
import { getPayment } from "../../lib/payments/repository.js";
import { businessKey, putBusinessSystem } from "../../lib/business/registry.js";
import { ensureBusinessCredentials } from "../../local/businessCredentials.js";
import { generateRsaKeyPair } from "../../simulator/index.js";
import { loadPrivateKey } from "../../simulator/keys.js";
import { openApiDocument } from "./openapiCheck.js";
import { businessOrderId, useStack, waitFor } from "./harness.js";
import { bizContentOf, eventAt, eventsAt, itemsWithSk, sendSigned, sleep, tamperOrderString } from "./twoSided.js";

// Credentials the emulated API Gateway verifies (SigV4 is valid) for a role no business system
// registered: the stack registers only `shop` and `membership`.
const keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-security-"));
// `retired` is registered below as a DISABLED system, as ops would disable one.
ensureBusinessCredentials(keysDir, ["shop", "membership", "intruder", "retired"]);
const t = useStack({ keysDir });
afterAll(() => rmSync(keysDir, { recursive: true, force: true }));

const notifyContentType = "application/x-www-form-urlencoded; text/html; charset=UTF-8";
const metric = (name: string) => metricCounts.get(name) ?? 0;
const credentialsOf = (system: string) => {
  const { accessKeyId, secretAccessKey } = t.stack.businessCredentials[system]!;
  return { accessKeyId, secretAccessKey };
};
const notify = (form: string) => t.api("/alipay/notify", { body: form, headers: { "content-type": notifyContentType } });

/** What a pending attempt looks like when nothing touched it. */
async function expectUntouched(paymentId: string, attempts = 1): Promise<void> {
  const stored = await getPayment(paymentId);
  expect(stored?.status).toBe("OPEN");
  expect(stored?.attempts).toHaveLength(attempts);
  expect(stored?.attempts.at(-1)?.status).toBe("PENDING");
  expect(stored?.tradeNo).toBeUndefined();
}

describe("amount tampering from the app is impossible", () => {
  it("the JWT operations take no amount: the business system's amount is the order string's total_amount", async () => {
    for (const operation of ["getOrderString", "getAppPayment"]) {
      const found = Object.values(openApiDocument.paths as Record<string, Record<string, any>>)
        .flatMap((path) => Object.values(path))
        .find((op) => op?.operationId === operation);
      expect(found, operation).toBeDefined();
      expect(found.requestBody, operation).toBeUndefined();
    }
    const created = await t.createPayment({ userId: "tamper-user", amount: 2500 });
    const paymentId = created.body.paymentId as string;
    const token = await t.token("tamper-user");
    // An app that sends an amount anyway: ignored or refused, never applied.
    const withAmount = await t.api(`/v1/app/payments/${paymentId}/order-string`, {
      method: "POST",
      token,
      body: { amount: 1, total_amount: "0.01", amountYuan: "0.01" },
    });
    expect(withAmount.status, JSON.stringify(withAmount.body)).toBeLessThan(500);
    const attempt = withAmount.status < 300 ? withAmount : await t.orderString("tamper-user", paymentId);
    expect([200, 201]).toContain(attempt.status);
    expect(attempt.body).toMatchObject({ amount: 2500, amountYuan: "25.00" });
    expect(bizContentOf(attempt.body.orderString)).toMatchObject({ total_amount: "25.00", out_trade_no: `${paymentId}_1` });
    const read = await t.api(`/v1/app/payments/${paymentId}`, { token });
    expect(read.body).toMatchObject({ amount: 2500, status: "OPEN" });
  });

  it("an order string changed to another amount is refused by Alipay, re-signed or not", async () => {
    const { payment, attempt } = await t.openPayment("tamper-user", 2600);
    const attackerKey = loadPrivateKey(generateRsaKeyPair().privateKeyPkcs8);
    for (const orderString of [
      tamperOrderString(attempt.orderString, { total_amount: "0.01" }),
      tamperOrderString(attempt.orderString, { total_amount: "0.01" }, attackerKey),
    ]) {
      expect(bizContentOf(orderString).total_amount).toBe("0.01");
      const paid = await t.sim("/sim/pay", { orderString });
      expect(paid.status).toBe(400);
      expect(paid.body.code).toBe("isv.invalid-signature");
    }
    expect((await t.sim(`/sim/trades/${attempt.outTradeNo}`)).status).toBe(404);
    await expectUntouched(payment.paymentId);
  });

  it("a genuine Alipay notification with another total_amount is rejected (amount_mismatch) and changes nothing", async () => {
    const { payment, attempt } = await t.openPayment("tamper-user", 2700);
    const before = metric("NotificationsRejected.amount_mismatch");
    const sent = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid",
      overrides: { total_amount: "0.01" },
    });
    expect(sent.body).toMatchObject({ httpStatus: 200, responseBody: "failure", acknowledged: false });
    expect(metric("NotificationsRejected.amount_mismatch")).toBe(before + 1);
    await expectUntouched(payment.paymentId);
  });

  it("even an order string validly signed for another amount (a leaked app key) never makes the payment PAID", async () => {
    const { payment, attempt } = await t.openPayment("tamper-user", 2800);
    const appKey = loadPrivateKey(readFileSync(join(keysDir, "app-private.pem"), "utf8"));
    const rejectedBefore = metric("NotificationsRejected.amount_mismatch");
    const paid = await t.sim("/sim/pay", { orderString: tamperOrderString(attempt.orderString, { total_amount: "0.01" }, appKey) });
    expect(paid.status).toBe(200);
    expect(paid.body.totalAmount).toBe("0.01");
    // Alipay's notification names the real attempt but 0.01: refused.
    await waitFor(async () => metric("NotificationsRejected.amount_mismatch") > rejectedBefore, { what: "the 0.01 notification rejected" });
    // The app's read asks Alipay inline, which reports the 0.01 trade: not applied either.
    const read = await t.api(`/v1/app/payments/${payment.paymentId}`, { token: await t.token("tamper-user") });
    expect(read.body).toMatchObject({ status: "OPEN", amount: 2800 });
    await sleep(1000);
    await expectUntouched(payment.paymentId);
    expect(eventsAt(t, "shop", payment.paymentId)).toEqual([]);
  });
});

describe("a business system sees only its own payments", () => {
  it("shop cannot read, look up, cancel or hear of membership's payment", async () => {
    const order = businessOrderId("member");
    const created = await t.createPayment({ userId: "member-user", amount: 9900, businessOrderId: order }, { system: "membership" });
    expect(created.status).toBe(201);
    const paymentId = created.body.paymentId as string;
    const attempt = await t.orderString("member-user", paymentId);
    expect(attempt.status).toBe(201);

    const shop = t.business("shop");
    for (const answer of [await shop.getPayment(paymentId), await shop.findPayment(order), await shop.cancelPayment(paymentId)]) {
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe("payment_not_found");
      expect(JSON.stringify(answer.body)).not.toContain("9900");
    }
    // The cancel did nothing: not even a close at Alipay.
    await expectUntouched(paymentId);
    const closes = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>).filter(
      (e) => e.kind === "close-request" && e.outTradeNo === attempt.body.outTradeNo,
    );
    expect(closes).toEqual([]);
    // The owner still sees it.
    expect((await t.business("membership").getPayment(paymentId)).body).toMatchObject({ status: "OPEN", amount: 9900 });
    expect((await t.business("membership").findPayment(order)).body.paymentId).toBe(paymentId);

    // Its event goes to membership's receiver only.
    expect((await t.sim("/sim/pay", { orderString: attempt.body.orderString })).status).toBe(200);
    await eventAt(t, "membership", paymentId, "succeeded");
    await sleep(1000);
    expect(eventsAt(t, "shop", paymentId)).toEqual([]);
    // Paid, it is still not shop's.
    expect((await shop.getPayment(paymentId)).status).toBe(404);
    expect((await shop.cancelPayment(paymentId)).status).toBe(404);
  });

  it("the same businessOrderId at two systems is two payments, each seen by its owner only", async () => {
    const order = businessOrderId("shared");
    const ofShop = await t.createPayment({ userId: "u1", amount: 100, businessOrderId: order }, { system: "shop" });
    const ofMembership = await t.createPayment({ userId: "u2", amount: 200, businessOrderId: order }, { system: "membership" });
    expect([ofShop.status, ofMembership.status]).toEqual([201, 201]);
    expect(ofShop.body.paymentId).not.toBe(ofMembership.body.paymentId);
    expect((await t.business("shop").findPayment(order)).body).toMatchObject({ paymentId: ofShop.body.paymentId, amount: 100 });
    expect((await t.business("membership").findPayment(order)).body).toMatchObject({ paymentId: ofMembership.body.paymentId, amount: 200 });
    expect((await t.business("shop").getPayment(ofMembership.body.paymentId)).status).toBe(404);
    expect((await t.business("membership").getPayment(ofShop.body.paymentId)).status).toBe(404);
  });
});

describe("Idempotency-Keys belong to their business system", () => {
  it("membership reusing shop's key gets its own payment, never shop's answer", async () => {
    const key = `shared-key-${Date.now()}`;
    const input = { businessOrderId: businessOrderId("key"), amount: 777, subject: "Shared key", userId: "key-user" };
    const ofShop = await t.business("shop").createPayment(input, key);
    expect(ofShop.status).toBe(201);
    const ofMembership = await t.business("membership").createPayment(input, key);
    expect(ofMembership.status).toBe(201);
    expect(ofMembership.headers["idempotent-replayed"]).toBeUndefined();
    expect(ofMembership.body.paymentId).not.toBe(ofShop.body.paymentId);
    expect(ofMembership.body.paymentId).toBe(derivePaymentId("membership", input.businessOrderId));
    // And with another body it is not "reused" either: it is membership's own first use.
    const other = await t.business("membership").createPayment({ ...input, businessOrderId: businessOrderId("key") }, `${key}-2`);
    const reusedAtShop = await t.business("shop").createPayment({ ...input, amount: 778 }, `${key}-2`);
    expect([other.status, reusedAtShop.status]).toEqual([201, 409]);
    expect(reusedAtShop.body.code).toBe("payment_conflict");
  });
});

describe("an app user sees only the payments they owe", () => {
  it("another user gets 404 for the order string and the read, and makes no attempt", async () => {
    const created = await t.createPayment({ userId: "owner-user", amount: 4200 });
    const paymentId = created.body.paymentId as string;
    const stranger = await t.token("stranger-user");
    const orderString = await t.api(`/v1/app/payments/${paymentId}/order-string`, { method: "POST", token: stranger });
    expect(orderString.status).toBe(404);
    expect(orderString.body.code).toBe("payment_not_found");
    const read = await t.api(`/v1/app/payments/${paymentId}`, { token: stranger });
    expect(read.status).toBe(404);
    expect(read.body.code).toBe("payment_not_found");
    expect((await getPayment(paymentId))?.attempts).toEqual([]);
    // The owner's request still makes the first attempt.
    expect((await t.orderString("owner-user", paymentId)).status).toBe(201);
    expect((await t.api(`/v1/app/payments/${paymentId}`, { token: stranger })).status).toBe(404);
  });

  it("refuses missing, malformed, wrongly signed and expired tokens with 401", async () => {
    const created = await t.createPayment({ userId: "token-user", amount: 100 });
    const paymentId = created.body.paymentId as string;
    const valid = await t.token("token-user");
    const [header, payload, signature] = valid.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as { exp: number };
    // The same claims with a later expiry, under the original signature.
    const extended = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString("base64url");
    const tokens = [
      undefined,
      "",
      "garbage",
      `${header}.${extended}.${signature}`,
      `${header}.${payload}.`,
      await t.stack.issueToken("token-user", -1),
    ];
    for (const token of tokens) {
      for (const [path, method] of [
        [`/v1/app/payments/${paymentId}/order-string`, "POST"],
        [`/v1/app/payments/${paymentId}`, "GET"],
      ] as const) {
        const answer = await t.api(path, { method, ...(token !== undefined ? { token } : {}) });
        expect(answer.status, `${method} ${path} with ${String(token)}`).toBe(401);
      }
    }
    expect((await getPayment(paymentId))?.attempts).toEqual([]);
  });
});

describe("SigV4 on the business routes", () => {
  const createBody = (order: string) => JSON.stringify({ businessOrderId: order, amount: 500, subject: "Signed", userId: "sig-user" });

  it("refuses a wrong secret, an expired date, a body changed after signing and an unsigned call with 403; creates nothing", async () => {
    const shop = credentialsOf("shop");
    const existing = await t.createPayment({ userId: "sig-user", amount: 501 });
    const paymentId = existing.body.paymentId as string;
    const order = businessOrderId("sig");
    const routes = [
      { method: "POST", path: "/v1/payments", body: createBody(order), headers: { "idempotency-key": `sig-${order}` } },
      { method: "GET", path: `/v1/payments/${paymentId}` },
      { method: "GET", path: "/v1/payments", query: { businessOrderId: existing.body.businessOrderId as string } },
      { method: "POST", path: `/v1/payments/${paymentId}/cancel` },
      { method: "GET", path: "/v1/events" },
      { method: "GET", path: `/v1/events/evt_${paymentId}_canceled` },
      { method: "POST", path: `/v1/events/evt_${paymentId}_canceled/redeliver` },
    ];
    const twentyMinutesAgo = new Date(Date.now() - 20 * 60_000);
    for (const route of routes) {
      const refusals = [
        [
          "wrong secret",
          await sendSigned(t, {
            ...route,
            credentials: {
              ...shop,
              secretAccessKey: `${shop.secretAccessKey.slice(0, -1)}${shop.secretAccessKey.endsWith("x") ? "y" : "x"}`,
            },
          }),
        ],
        ["expired date", await sendSigned(t, { ...route, credentials: shop, signingDate: twentyMinutesAgo })],
        [
          "unsigned",
          await t.api(`${route.path}${route.query ? `?${new URLSearchParams(route.query)}` : ""}`, {
            method: route.method,
            ...(route.body ? { body: route.body } : {}),
            headers: route.headers ?? {},
          }),
        ],
      ] as const;
      for (const [what, answer] of refusals) {
        expect(answer.status, `${route.method} ${route.path}: ${what}: ${JSON.stringify(answer.body)}`).toBe(403);
        expect(typeof answer.body.message).toBe("string");
      }
    }
    const changed = await sendSigned(t, {
      ...routes[0]!,
      credentials: shop,
      bodySent: createBody(order).replace('"amount":500', '"amount":1'),
    });
    expect(changed.status).toBe(403);
    expect(changed.body.message).toMatch(/signature we calculated does not match/);

    expect(await getPayment(derivePaymentId("shop", order))).toBeUndefined();
    expect((await getPayment(paymentId))?.status).toBe("OPEN");
    // Control: the same requests, signed correctly, are served.
    const served = await sendSigned(t, { ...routes[0]!, credentials: shop });
    expect(served.status, JSON.stringify(served.body)).toBe(201);
    expect(served.body).toMatchObject({ businessOrderId: order, amount: 500 });
    expect((await sendSigned(t, { ...routes[1]!, credentials: shop })).status).toBe(200);
  });

  it("refuses a correctly signed call from a role no business system registered: 403 forbidden, counted, nothing created", async () => {
    const intruder = credentialsOf("intruder");
    const refusedBefore = metric("BusinessCallsRefused");
    const victim = await t.createPayment({ userId: "sig-user", amount: 502 });
    const order = businessOrderId("intruder");
    const answers = [
      await sendSigned(t, {
        method: "POST",
        path: "/v1/payments",
        body: createBody(order),
        headers: { "idempotency-key": `in-${order}` },
        credentials: intruder,
      }),
      await sendSigned(t, { method: "GET", path: `/v1/payments/${victim.body.paymentId}`, credentials: intruder }),
      await sendSigned(t, {
        method: "GET",
        path: "/v1/payments",
        query: { businessOrderId: victim.body.businessOrderId },
        credentials: intruder,
      }),
      await sendSigned(t, { method: "POST", path: `/v1/payments/${victim.body.paymentId}/cancel`, credentials: intruder }),
    ];
    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(403);
      expect(answer.body.code).toBe("forbidden");
    }
    expect(metric("BusinessCallsRefused")).toBe(refusedBefore + answers.length);
    expect((await itemsWithSk(t, "PAYMENT")).filter((p) => p.businessOrderId === order)).toEqual([]);
    expect((await getPayment(victim.body.paymentId))?.status).toBe("OPEN");
  });

  it("refuses the role of a disabled business system: 403 forbidden", async () => {
    const retired = t.stack.businessCredentials.retired!;
    const now = Date.now();
    await putBusinessSystem({
      ...businessKey("retired"),
      businessId: "retired",
      principals: [retired.roleArn],
      webhookUrl: `${t.stack.urls.receivers.shop}/events`,
      webhookSecretRef: "file:/nonexistent",
      paymentExpirySeconds: 900,
      status: "DISABLED",
      createdAt: now,
      updatedAt: now,
    });
    const order = businessOrderId("retired");
    const answer = await sendSigned(t, {
      method: "POST",
      path: "/v1/payments",
      body: createBody(order),
      headers: { "idempotency-key": `ret-${order}` },
      credentials: credentialsOf("retired"),
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(403);
    expect(answer.body.code).toBe("forbidden");
    expect(await getPayment(derivePaymentId("retired", order))).toBeUndefined();
  });

  it("refuses an unregistered role before looking at its request: 403 forbidden, not the API's validation answers", async () => {
    const intruder = credentialsOf("intruder");
    const order = businessOrderId("intruder");
    const malformed = [
      // No Idempotency-Key; a body that is not JSON; no or a malformed businessOrderId; malformed ids.
      await sendSigned(t, { method: "POST", path: "/v1/payments", body: createBody(order), credentials: intruder }),
      await sendSigned(t, {
        method: "POST",
        path: "/v1/payments",
        body: "{not json",
        headers: { "idempotency-key": `in2-${order}` },
        credentials: intruder,
      }),
      await sendSigned(t, { method: "GET", path: "/v1/payments", credentials: intruder }),
      await sendSigned(t, { method: "GET", path: "/v1/payments", query: { businessOrderId: "bad id!" }, credentials: intruder }),
      await sendSigned(t, { method: "GET", path: "/v1/payments/not-a-payment", credentials: intruder }),
      await sendSigned(t, { method: "POST", path: "/v1/payments/not-a-payment/cancel", credentials: intruder }),
    ];
    expect(malformed.map((a) => `${a.status} ${a.body.code}`)).toEqual(malformed.map(() => "403 forbidden"));
  });
});

// --- Generated and hostile input -----------------------------------------------------------------

const arbitraryCreateBody = fc.oneof(
  fc
    .record(
      {
        businessOrderId: fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.integer(), fc.constant("")),
        amount: fc.oneof(
          fc.integer(),
          fc.double(),
          fc.maxSafeNat().map((n) => (n % 10_000_000_000) + 1),
          fc.maxSafeNat().map((n) => n + 10_000_000_001),
          fc.string(),
          fc.constant(null),
        ),
        subject: fc.oneof(fc.string(), fc.string({ unit: "grapheme", maxLength: 300 }), fc.constant(""), fc.constant("a/b=c&d")),
        body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
        userId: fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,128}$/), fc.string(), fc.constant(""), fc.integer()),
        expiresInSeconds: fc.oneof(fc.integer(), fc.double(), fc.constant("600")),
        metadata: fc.oneof(
          fc.dictionary(fc.string(), fc.string()),
          fc.dictionary(fc.string(), fc.jsonValue()),
          fc.array(fc.string()),
          fc.string(),
        ),
        // Fields of the answer a caller may try to set.
        status: fc.jsonValue(),
        businessId: fc.oneof(fc.constant("membership"), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  // A valid request with one field made hostile, so every field's own check is reached.
  fc
    .tuple(
      fc.record({
        businessOrderId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        amount: fc.integer({ min: 1, max: 100_000 }),
        subject: fc.stringMatching(/^[A-Za-z0-9 ]{1,40}$/).filter((v) => v.trim() !== ""),
        userId: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
      }),
      fc.oneof(
        fc.record({
          amount: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.constantFrom(0.5, 10_000_000_001, 1e21, "100", -0), fc.double()),
        }),
        fc.record({
          subject: fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom("", " ", "a/b", "a=b", "a&b", "tab\there", "x".repeat(257))),
        }),
        fc.record({ body: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("", "a&b", "x".repeat(129)), fc.integer()) }),
        fc.record({ userId: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("", "has space", "x".repeat(129)), fc.integer()) }),
        fc.record({ expiresInSeconds: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(119, 120, 1_296_000, 1_296_001, "600")) }),
        fc.record({
          metadata: fc.oneof(
            fc.dictionary(fc.string({ maxLength: 50 }), fc.string({ maxLength: 600 })),
            fc.dictionary(fc.string(), fc.jsonValue()),
            fc.array(fc.string()),
            fc.string(),
            fc.constant(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"]))),
          ),
        }),
        fc.dictionary(fc.constantFrom("status", "paymentId", "businessId", "amountYuan", "__proto__", "constructor"), fc.jsonValue()),
      ),
    )
    .map(([valid, hostile]) => JSON.stringify({ ...valid, ...hostile })),
  fc.json(),
  fc.string(),
  fc.dictionary(fc.string(), fc.jsonValue()).map((v) => JSON.stringify(v)),
);
const arbitraryKey = fc.oneof(
  { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 300 }) },
  { weight: 5, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,255}$/) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
// fetch refuses header values it cannot send; such a request never reaches the API.
const sendable = (key: string | undefined) => key !== undefined && /^[\x20-\x7e]*$/.test(key);

/** Everything stored is whole: valid payments, and every remembered answer names a stored payment. */
async function everythingStoredIsWhole(): Promise<void> {
  const payments = await itemsWithSk(t, "PAYMENT");
  const byId = new Map(payments.map((p) => [p.paymentId as string, p]));
  for (const item of payments) {
    const what = JSON.stringify(item);
    expect(isPaymentId(item.paymentId), what).toBe(true);
    expect(item.pk, what).toBe(`PAYMENT#${item.paymentId}`);
    expect(["shop", "membership"], what).toContain(item.businessId);
    expect(item.paymentId, what).toBe(derivePaymentId(item.businessId, item.businessOrderId));
    expect(isValidAmountFen(item.amountFen), what).toBe(true);
    expect(typeof item.subject === "string" && item.subject.length > 0, what).toBe(true);
    expect(typeof item.userId === "string" && /^[\x21-\x7e]{1,128}$/.test(item.userId), what).toBe(true);
    expect(["OPEN", "PAID", "CANCELED", "EXPIRED"], what).toContain(item.status);
    expect(Array.isArray(item.attempts), what).toBe(true);
    expect(item.expiresAt > item.createdAt, what).toBe(true);
  }
  for (const record of await itemsWithSk(t, "IDEMPOTENCY")) {
    const body = JSON.parse(record.responseBody as string);
    if (record.statusCode === 200 || record.statusCode === 201) {
      expect(byId.has(body.paymentId), JSON.stringify(record)).toBe(true);
    } else {
      expect(record.statusCode, JSON.stringify(record)).toBe(409);
      expect(body.code).toBe("payment_conflict");
    }
  }
}

const expectStableRefusal = (answer: { status: number; body: any }, what: string) => {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBeLessThan(500);
  if (answer.status >= 400) {
    expect(answer.body.code, `${what}: ${JSON.stringify(answer.body)}`).toMatch(/^[a-z_]+$/);
    expect(typeof answer.body.message).toBe("string");
  }
};

describe("create-payment under generated input", () => {
  it("never answers 5xx, explains every refusal with a stable code, and stores nothing half-written", async () => {
    const shop = t.business("shop");
    await fc.assert(
      fc.asyncProperty(arbitraryCreateBody, arbitraryKey, async (body, key) => {
        const headers: Record<string, string> = sendable(key) ? { "idempotency-key": key! } : {};
        const answer = await shop.request("POST", "/v1/payments", { body, headers });
        expectStableRefusal(answer, body);
        if (answer.status < 300) {
          expect(isValidAmountFen(answer.body.amount)).toBe(true);
          expect(answer.body.status).toBe("OPEN");
        }
      }),
      { numRuns: 300 },
    );
    await everythingStoredIsWhole();
  });

  it("refuses metadata with an empty key with 400 metadata_invalid (DynamoDB cannot store it)", async () => {
    const order = businessOrderId("meta");
    for (const [i, metadata] of ([{ "": "" }, { "": "value", ok: "yes" }] as Array<Record<string, string>>).entries()) {
      const answer = await t
        .business("shop")
        .createPayment({ businessOrderId: order, amount: 100, subject: "Meta", userId: "meta-user", metadata }, `meta-${order}-${i}`);
      expect(`${answer.status} ${answer.body.code}`, JSON.stringify(metadata)).toBe("400 metadata_invalid");
    }
    expect(await getPayment(derivePaymentId("shop", order))).toBeUndefined();
  });

  it("refuses an oversized body with 413", async () => {
    const answer = await t
      .business("shop")
      .createPayment({ businessOrderId: businessOrderId("big"), amount: 1, subject: "x".repeat(20_000), userId: "big-user" }, "big-1");
    expect(answer.status).toBe(413);
    expect(answer.body.code).toBe("body_too_large");
  });

  it("answers ids and lookups that are not ours with a stable 4xx", async () => {
    const shop = t.business("shop");
    const strings = fc.string({ minLength: 1, maxLength: 120 }).filter((s) => s !== "." && s !== "..");
    await fc.assert(
      fc.asyncProperty(strings, async (value) => {
        expectStableRefusal(await shop.getPayment(value), `GET ${value}`);
        expectStableRefusal(await shop.findPayment(value), `find ${value}`);
        expectStableRefusal(await shop.cancelPayment(value), `cancel ${value}`);
      }),
      { numRuns: 60 },
    );
    const missing = await shop.request("GET", "/v1/payments");
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe("business_order_id_missing");
  });
});

describe("app routes under generated input", () => {
  it("answers any payment id with a stable 4xx (404 for what the user does not owe), never 5xx", async () => {
    const token = await t.token("fuzz-user");
    const someoneElses = await t.createPayment({ userId: "not-fuzz-user", amount: 300 });
    const ids = fc.oneof(
      fc.string({ minLength: 1, maxLength: 120 }).filter((s) => s !== "." && s !== ".."),
      fc.stringMatching(/^pay[0-9a-f]{29}$/),
      fc.constant(someoneElses.body.paymentId as string),
    );
    await fc.assert(
      fc.asyncProperty(ids, fc.option(fc.jsonValue(), { nil: undefined }), async (id, body) => {
        const path = `/v1/app/payments/${encodeURIComponent(id)}`;
        const orderString = await t.api(`${path}/order-string`, {
          method: "POST",
          token,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        expectStableRefusal(orderString, `order-string ${id}`);
        expect(orderString.status).toBe(404);
        const read = await t.api(path, { token });
        expectStableRefusal(read, `read ${id}`);
        expect(read.status).toBe(404);
      }),
      { numRuns: 80 },
    );
    expect((await getPayment(someoneElses.body.paymentId))?.attempts).toEqual([]);
  });
});

describe("notify URL under generated and hostile input", () => {
  it("never answers 5xx nor `success` to forms it cannot verify, changes no payment, counts every one", async () => {
    const { payment, attempt } = await t.openPayment("notify-user", 100);
    const rejectedBefore = metric("NotificationsRejected");
    const mismatchesBefore = metric("NotificationsRejected.amount_mismatch");
    const field = fc.constantFrom(
      "out_trade_no",
      "trade_status",
      "total_amount",
      "app_id",
      "seller_id",
      "sign",
      "sign_type",
      "trade_no",
      "notify_id",
      "x",
    );
    const value = fc.oneof(
      fc.string(),
      fc.constant(attempt.outTradeNo as string),
      fc.constant("TRADE_SUCCESS"),
      fc.constant("1.00"),
      fc.constant("RSA2"),
    );
    const form = fc.dictionary(field, value);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          form.map((f) => new URLSearchParams(f).toString()),
          fc.string(),
        ),
        async (raw) => {
          runs += 1;
          const answer = await notify(raw);
          expect(answer.status).toBe(200);
          expect(answer.body).toBe("failure");
        },
      ),
      { numRuns: 150 },
    );
    await expectUntouched(payment.paymentId);
    // Every one counted (amount_mismatch needs a valid signature: those are the leaked-key test's retries).
    expect(metric("NotificationsRejected") - rejectedBefore - (metric("NotificationsRejected.amount_mismatch") - mismatchesBefore)).toBe(
      runs,
    );
  });

  it("refuses forged and mismatched notifications, each counted with its reason, and changes nothing", async () => {
    const { payment, attempt } = await t.openPayment("notify-user", 3300);
    const notifyUrl = `${t.stack.urls.api}/alipay/notify`;
    const forgeries: Array<[string, Record<string, unknown>]> = [
      ["bad_signature", { mode: "bad-signature" }],
      ["bad_signature", { mode: "other-key" }],
      ["bad_signature", { mode: "tampered-amount" }],
      ["amount_mismatch", { mode: "valid", overrides: { total_amount: "33.01" } }],
      ["app_id_mismatch", { mode: "valid", overrides: { app_id: "2021000000009999" } }],
      ["seller_id_mismatch", { mode: "valid", overrides: { seller_id: "2088000000009999" } }],
      ["unknown_status", { mode: "valid", overrides: { total_amount: "33.00", trade_status: "TRADE_PAID_MAYBE" } }],
      ["unknown_order", { mode: "valid", outTradeNo: `${attempt.outTradeNo.slice(0, -1)}9`, overrides: { total_amount: "33.00" } }],
      ["unknown_order", { mode: "valid", outTradeNo: "not-ours-123", overrides: { total_amount: "33.00" } }],
    ];
    for (const [reason, forgery] of forgeries) {
      const before = metric(`NotificationsRejected.${reason}`);
      const sent = await t.sim("/sim/notify/forge", { url: notifyUrl, outTradeNo: attempt.outTradeNo, ...forgery });
      expect(sent.body, `${reason} ${JSON.stringify(forgery)}`).toMatchObject({ httpStatus: 200, responseBody: "failure" });
      expect(metric(`NotificationsRejected.${reason}`), `${reason} ${JSON.stringify(forgery)}`).toBe(before + 1);
    }
    await expectUntouched(payment.paymentId);
    await sleep(500);
    expect(eventsAt(t, "shop", payment.paymentId)).toEqual([]);
  });

  it("refuses a genuine notification replayed against another payment's attempt", async () => {
    const paid = await t.openPayment("replay-user", 100);
    const victim = await t.openPayment("replay-user", 100);
    await t.sim("/sim/pay", { orderString: paid.attempt.orderString });
    const sent = await waitFor(
      async () => {
        const attempts = (await t.sim(`/sim/notifications?outTradeNo=${paid.attempt.outTradeNo}`)).body as Array<{
          params: Record<string, string>;
        }>;
        return attempts.length > 0 && attempts;
      },
      { what: "the genuine notification" },
    );
    const replayed = new URLSearchParams({ ...sent[0]!.params, out_trade_no: victim.attempt.outTradeNo }).toString();
    const answer = await notify(replayed);
    expect(answer.body).toBe("failure");
    await expectUntouched(victim.payment.paymentId);
  });

  it("answers `failure` to an oversized notification", async () => {
    const answer = await notify(`a=${"x".repeat(100_000)}`);
    expect(answer.body).toBe("failure");
  });
});
