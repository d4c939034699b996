// The stream filter serverless.yml gives the event publisher, applied by the local stream poller
// as Lambda applies filter criteria: only a payment leaving OPEN reaches publishPaymentEvent, and
// every record that would publish an event passes the filter.
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { paymentEventOf, refundToSendOf } from "../../lib/events.js";
import type { PaymentRecord, PaymentStatus } from "../../lib/payments/model.js";
import { readYaml } from "../../local/serverlessConfig.js";
import { matchesAny } from "../../local/streamPoller.js";

const serverless = readYaml("serverless.yml") as {
  functions: { publishEvents: { events: Array<{ stream?: { filterPatterns?: unknown[] } }> } };
};
const patterns = serverless.functions.publishEvents.events.find((e) => e.stream)!.stream!.filterPatterns!;

const payment = (status: PaymentStatus): PaymentRecord => ({
  pk: "PAYMENT#pay0123456789abcdef0123456789a",
  sk: "PAYMENT",
  paymentId: "pay0123456789abcdef0123456789a",
  businessId: "shop",
  businessOrderId: "bo-1",
  userId: "alice",
  amountFen: 1234,
  subject: "Coffee beans",
  status,
  createdAt: 1_000,
  expiresAt: 2_000_000,
  attempts: [],
  history: [],
  ...(status === "PAID" ? { paidAt: 5_000, tradeNo: "2026112522001400000000000001" } : {}),
  ...(status === "CANCELED" ? { canceledAt: 5_000 } : {}),
  ...(status === "EXPIRED" ? { expiredAt: 5_000 } : {}),
});

const image = (item: object) => marshall(item, { removeUndefinedValues: true }) as never;
const record = (eventName: "INSERT" | "MODIFY" | "REMOVE", before: object | undefined, after: object | undefined): DynamoDBRecord => ({
  eventName,
  dynamodb: { ...(before ? { OldImage: image(before) } : {}), ...(after ? { NewImage: image(after) } : {}) },
});

describe("local stream event filtering (serverless.yml's filter of publishEvents)", () => {
  it("passes a payment leaving OPEN, for each final status", () => {
    for (const status of ["PAID", "CANCELED", "EXPIRED"] as const) {
      const r = record("MODIFY", payment("OPEN"), payment(status));
      expect(matchesAny(r, patterns), status).toBe(true);
      expect(paymentEventOf(r)?.type, status).toBe(
        { PAID: "payment.succeeded", CANCELED: "payment.canceled", EXPIRED: "payment.expired" }[status],
      );
    }
  });

  it("drops every other write: a new attempt, a settled payment written again, a new payment, refunds, business systems", () => {
    const refund = { pk: "PAYMENT#pay0123456789abcdef0123456789a", sk: "REFUND#2026", status: "REFUND_NEEDED" };
    const business = { pk: "BUSINESS", sk: "shop", status: "ACTIVE" };
    const dropped: Array<[string, DynamoDBRecord]> = [
      [
        "OPEN -> OPEN (an attempt added or closed)",
        record("MODIFY", payment("OPEN"), { ...payment("OPEN"), attempts: [{ attemptNo: 1 }] }),
      ],
      ["PAID -> PAID", record("MODIFY", payment("PAID"), payment("PAID"))],
      ["CANCELED -> EXPIRED", record("MODIFY", payment("CANCELED"), payment("EXPIRED"))],
      ["INSERT of an open payment", record("INSERT", undefined, payment("OPEN"))],
      ["INSERT of a paid item without an old image", record("INSERT", undefined, payment("PAID"))],
      ["REMOVE", record("REMOVE", payment("OPEN"), undefined)],
      ["a refund-needed record", record("INSERT", undefined, refund)],
      ["a business system", record("MODIFY", business, { ...business, status: "DISABLED" })],
      [
        "an item other than the payment going from OPEN to PAID",
        record("MODIFY", { ...payment("OPEN"), sk: "OTHER" }, { ...payment("PAID"), sk: "OTHER" }),
      ],
    ];
    for (const [what, r] of dropped) {
      expect(matchesAny(r, patterns), what).toBe(false);
      // What the filter lets through is what the publisher would publish, and nothing more.
      expect(paymentEventOf(r), what).toBeUndefined();
    }
  });

  it("passes a new PENDING refund (sent to Alipay at once), and only that refund write", () => {
    const refund = {
      pk: "PAYMENT#pay0123456789abcdef0123456789a",
      sk: "REFUND_REQUEST#ref0123456789abcdef0123456789a",
      recordType: "REFUND_REQUEST",
      refundId: "ref0123456789abcdef0123456789a",
      paymentId: "pay0123456789abcdef0123456789a",
      businessId: "shop",
      status: "PENDING",
    };
    const inserted = record("INSERT", undefined, refund);
    expect(matchesAny(inserted, patterns)).toBe(true);
    expect(refundToSendOf(inserted)).toEqual({ paymentId: refund.paymentId, refundId: refund.refundId });
    const event = {
      pk: "EVENT#evt_pay0123456789abcdef0123456789a_succeeded",
      sk: "EVENT",
      eventsOf: "shop",
      eventType: "payment.succeeded",
    };
    const dropped: Array<[string, DynamoDBRecord]> = [
      ["a PENDING refund written again (claimed, marked sent)", record("MODIFY", refund, { ...refund, sentAt: 5 })],
      ["a refund inserted settled", record("INSERT", undefined, { ...refund, status: "SUCCEEDED" })],
      ["a stored event", record("INSERT", undefined, event)],
      ["a refund removed", record("REMOVE", refund, undefined)],
    ];
    for (const [what, r] of dropped) {
      expect(matchesAny(r, patterns), what).toBe(false);
      expect(refundToSendOf(r), what).toBeUndefined();
      expect(paymentEventOf(r), what).toBeUndefined();
    }
  });

  it("lets everything through without patterns", () => {
    expect(matchesAny(record("MODIFY", payment("PAID"), payment("PAID")), [])).toBe(true);
  });
});
