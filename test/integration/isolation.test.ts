// Issue 17, "no record can block another", over HTTP against the local stack (DynamoDB Local, fauxqs):
// whatever the API accepts in a payment reaches its business system's webhook, and a payment with
// text nobody can carry is refused up front; a poison message on a work queue holds up no other
// business system. (A stream record that always fails is parked and replayed: ops.test.ts.)
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { localCredentials } from "../../local/engines.js";
import { businessOrderId, useStack } from "./harness.js";
import { poisonPayments } from "./poisonInputs.js";
import { eventAt } from "./twoSided.js";

const t = useStack();
const systems = ["shop", "membership"] as const;

/** A payment of `system` paid by the buyer: its payment.succeeded must arrive. */
async function paidPayment(system: string, user: string): Promise<string> {
  const { payment, attempt } = await t.openPayment(user, 1000, { system });
  expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
  return payment.paymentId as string;
}

describe("text the API accepts reaches the webhook", () => {
  it("payments with emoji, the longest subject, every allowed character class, commas and quotes, canceled in both systems; later payments too", async () => {
    const canceled: Array<{ system: string; paymentId: string; input: (typeof poisonPayments)[number] }> = [];
    for (const system of systems) {
      for (const input of poisonPayments) {
        const { name: _name, ...text } = input;
        const created = await t.createPayment({ userId: "poison", ...text, businessOrderId: businessOrderId(system) }, { system });
        expect(created.status, `${system} ${input.name}: ${JSON.stringify(created.body)}`).toBe(201);
        expect(created.body.subject).toBe(input.subject);
        const cancel = await t.business(system).cancelPayment(created.body.paymentId);
        expect(cancel.status, `${system} ${input.name}`).toBe(200);
        canceled.push({ system, paymentId: created.body.paymentId, input });
      }
    }
    // Written after every poison record: in the same stream shard, behind them.
    const later = await Promise.all(systems.map(async (system) => ({ system, paymentId: await paidPayment(system, "later") })));

    for (const { system, paymentId } of later) await eventAt(t, system, paymentId, "succeeded");
    for (const { system, paymentId, input } of canceled) {
      const event = await eventAt(t, system, paymentId, "canceled");
      // The receiver parsed the very text the business system sent.
      const payment = (event.data as { payment: { subject: string; body?: string; metadata?: Record<string, string> } }).payment;
      expect(payment.subject, `${system} ${input.name}`).toBe(input.subject);
      expect(payment.body).toBe(input.body);
      expect(payment.metadata).toEqual(input.metadata);
    }
  });
});

describe("text nobody can carry is refused with a 400 naming the field", () => {
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ["U+FFFF in the subject", { subject: "Beans \uFFFF" }, "subject_invalid"],
    ["U+FFFE in the subject", { subject: "\uFFFE" }, "subject_invalid"],
    ["U+FDD0 in the body", { body: "gift \uFDD0" }, "body_invalid"],
    ["a lone high surrogate in the subject", { subject: "Beans \uD83C" }, "subject_invalid"],
    ["a lone low surrogate in the body", { body: "\uDF70 cake" }, "body_invalid"],
    ["U+FFFF in a metadata value", { metadata: { note: "\uFFFF" } }, "metadata_invalid"],
    ["U+1FFFF in a metadata value", { metadata: { note: "\u{1FFFF}" } }, "metadata_invalid"],
    ["U+10FFFF in a metadata key", { metadata: { "k\u{10FFFF}": "v" } }, "metadata_invalid"],
    ["a lone surrogate in a metadata key", { metadata: { "k\uD800": "v" } }, "metadata_invalid"],
  ];
  for (const [name, input, code] of refused) {
    it(`refuses ${name}: ${code}`, async () => {
      const answer = await t.createPayment({ userId: "poison", ...input });
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe(code);
      expect(answer.body.message).toMatch(new RegExp(`^${code.replace("_invalid", "")}`));
    });
  }

  it("refuses a noncharacter or a lone surrogate in a refund's reason: reason_invalid", async () => {
    const { body: payment } = await t.createPayment({ userId: "poison" });
    for (const reason of ["back \uFFFF", "\uD800", "\u{FDEF}"]) {
      const answer = await t
        .business("shop")
        .createRefund(payment.paymentId, { amount: 1, reason }, `refund-${reason.length}-${Date.now()}`);
      expect(answer.status, JSON.stringify(reason)).toBe(400);
      expect((answer.body as { code: string }).code).toBe("reason_invalid");
    }
  });

  it("accepts the characters next to them: emoji, U+FFFD, U+FDCF, U+FDF0, U+10FFFD", async () => {
    const answer = await t.createPayment({
      userId: "poison",
      subject: "🍰 \uFFFD \uFDCF \uFDF0 \u{10FFFD}",
      metadata: { "k🍰": "\u{1FFFD}" },
    });
    expect(answer.status).toBe(201);
  });
});

describe("a poison message on a work queue holds up no other business system", () => {
  it("bodies that are not JSON, not objects, or name an unknown payment or system: every later event is delivered", async () => {
    const sqs = new SQSClient({ endpoint: t.stack.urls.sqs, region: t.stack.service.region, credentials: localCredentials });
    const poison = [
      "not json",
      "null",
      "[]",
      "{}",
      JSON.stringify({ id: "evt_x", type: "payment.succeeded", businessId: "ghost", data: {} }),
    ];
    for (const [queue, bodies] of [
      ["EventsQueue", poison],
      ["CheckQueue", [...poison.slice(0, 4), JSON.stringify({ paymentId: "pay00000000000000000000000000000" })]],
    ] as const) {
      for (const body of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: t.stack.resources[queue]!.ref, MessageBody: body }));
    }
    sqs.destroy();
    const later = await Promise.all(systems.map(async (system) => ({ system, paymentId: await paidPayment(system, "after-poison") })));
    for (const { system, paymentId } of later) await eventAt(t, system, paymentId, "succeeded");
  });
});
