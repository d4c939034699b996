// Bad input and hostile callers, generated: whatever arrives, the API answers a clear 4xx (never a
// 5xx), stores nothing invalid, and the notify URL changes nothing it cannot verify.
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dynamo } from "../../lib/aws.js";
import { isValidAmountFen } from "../../lib/money.js";
import { metricCounts } from "../../lib/observability.js";
import { getOrder } from "../../lib/orders/repository.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

const t = useStack();
const notifyContentType = "application/x-www-form-urlencoded; text/html; charset=UTF-8";

const arbitraryCreateBody = fc.oneof(
  fc.record({
    merchantOrderId: fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.integer()),
    amount: fc.oneof(fc.integer(), fc.double(), fc.integer({ min: 1, max: 10_000_000_000 }), fc.string(), fc.constant(null)),
    subject: fc.oneof(fc.string(), fc.string({ unit: "grapheme", maxLength: 300 }), fc.constant("")),
    body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.json(),
  fc.string(),
  fc.dictionary(fc.string(), fc.jsonValue()).map((v) => JSON.stringify(v)),
);
const arbitraryKey = fc.oneof(fc.string({ minLength: 0, maxLength: 300 }), fc.stringMatching(/^[\x21-\x7e]{1,255}$/), fc.constant(undefined));

async function allStoredOrdersValid(): Promise<void> {
  const { Items = [] } = await dynamo().send(new ScanCommand({ TableName: t.stack.functionEnv.TABLE_NAME }));
  for (const item of Items.filter((i) => String(i.sk) === "ORDER")) {
    expect(isValidAmountFen(item.amountFen), JSON.stringify(item)).toBe(true);
    expect(typeof item.subject === "string" && item.subject.length > 0).toBe(true);
    expect(["PENDING", "PAID", "CLOSED"]).toContain(item.status);
    expect(typeof item.orderString).toBe("string");
  }
}

describe("create-order under generated input", () => {
  it("never answers 5xx and explains every refusal with a stable code", async () => {
    const token = await t.token("prop-user");
    await fc.assert(fc.asyncProperty(arbitraryCreateBody, arbitraryKey, async (body, key) => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      // fetch refuses header values it cannot send; such a request cannot reach the API at all.
      if (key !== undefined && /^[\x20-\x7e]*$/.test(key)) headers["idempotency-key"] = key;
      const answer = await t.api("/orders", { token, body, headers });
      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
      if (answer.status >= 400) {
        expect(answer.body.code).toMatch(/^[a-z_]+$/);
        expect(typeof answer.body.message).toBe("string");
      } else {
        expect(isValidAmountFen(answer.body.amount)).toBe(true);
      }
    }), { numRuns: 150 });
    await allStoredOrdersValid();
  });

  it("refuses oversized bodies with 413", async () => {
    const answer = await t.api("/orders", {
      token: await t.token("prop-user"),
      body: JSON.stringify({ merchantOrderId: "a", amount: 1, subject: "x".repeat(20_000) }),
      headers: { "idempotency-key": "big-1" },
    });
    expect(answer.status).toBe(413);
    expect(answer.body.code).toBe("body_too_large");
  });

  it("refuses missing, malformed, wrongly signed and expired tokens", async () => {
    const valid = await t.token("prop-user");
    const [header, payload] = valid.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ sub: "someone-else", iss: "x", aud: "y" })).toString("base64url");
    for (const token of [undefined, "", "garbage", `${header}.${forgedPayload}.${valid.split(".")[2]}`, `${header}.${payload}.`, await t.stack.issueToken("prop-user", -1)]) {
      const answer = await t.api("/orders", { token, body: { merchantOrderId: "a", amount: 1, subject: "s" }, headers: { "idempotency-key": "tok" } });
      expect(answer.status, String(token)).toBe(401);
    }
  });
});

describe("notify URL under generated and hostile input", () => {
  it("never answers 5xx nor `success` to forms it cannot verify, and changes no order", async () => {
    const created = await t.createOrder("prop-notify", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    const orderId = created.body.orderId as string;
    const rejectedBefore = metricCounts.get("NotificationsRejected") ?? 0;
    const field = fc.constantFrom("out_trade_no", "trade_status", "total_amount", "app_id", "seller_id", "sign", "sign_type", "trade_no", "notify_id", "x");
    const form = fc.dictionary(field, fc.oneof(fc.string(), fc.constant(orderId), fc.constant("TRADE_SUCCESS"), fc.constant("1.00")));
    let runs = 0;
    await fc.assert(fc.asyncProperty(fc.oneof(form.map((f) => new URLSearchParams(f).toString()), fc.string()), async (raw) => {
      runs += 1;
      const response = await fetch(`${t.stack.urls.api}/alipay/notify`, {
        method: "POST",
        headers: { "content-type": notifyContentType, "user-agent": "Mozilla/4.0" },
        body: raw,
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("failure");
    }), { numRuns: 150 });
    expect((await getOrder(orderId))?.status).toBe("PENDING");
    expect((metricCounts.get("NotificationsRejected") ?? 0) - rejectedBefore).toBe(runs);
  });

  it("refuses a genuine notification replayed against another order", async () => {
    const paid = await t.createOrder("prop-replay", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    const victim = await t.createOrder("prop-replay", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    await t.sim("/sim/pay", { orderString: paid.body.orderString });
    const attempts = await waitFor(async () => {
      const sent = (await t.sim(`/sim/notifications?outTradeNo=${paid.body.orderId}`)).body as Array<{ params: Record<string, string> }>;
      return sent.length > 0 && sent;
    }, { what: "the genuine notification" });
    const genuine = attempts[0]!.params;
    const replayed = new URLSearchParams({ ...genuine, out_trade_no: victim.body.orderId }).toString();
    const response = await fetch(`${t.stack.urls.api}/alipay/notify`, { method: "POST", headers: { "content-type": notifyContentType }, body: replayed });
    expect(await response.text()).toBe("failure");
    expect((await getOrder(victim.body.orderId))?.status).toBe("PENDING");
  });

  it("answers `failure` to an oversized notification", async () => {
    const response = await fetch(`${t.stack.urls.api}/alipay/notify`, {
      method: "POST", headers: { "content-type": notifyContentType }, body: `a=${"x".repeat(100_000)}`,
    });
    expect(await response.text()).toBe("failure");
  });
});
