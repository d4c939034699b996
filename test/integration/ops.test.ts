// The ops CLI (ops/) against a whole local stack: its command functions in-process (useStack puts
// the functions' environment on process.env, exactly what the CLI reads), and the real entry as a
// child process. The sweep never fires in this file, so what the commands do is not raced (or
// done for them) by the scheduled check worker.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { dynamo } from "../../lib/aws.js";
import { localCredentials } from "../../local/engines.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { getOrder, recordRefundNeeded } from "../../lib/orders/repository.js";
import { parseArgs } from "../../ops/args.js";
import { listDlq, redriveDlq } from "../../ops/dlq.js";
import { explain } from "../../ops/environment.js";
import { OpsError } from "../../ops/errors.js";
import { replayEvent } from "../../ops/events.js";
import { formatListing, formatOrder } from "../../ops/format.js";
import { recheckOrder, showOrder } from "../../ops/orders.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

const t = useStack({ scheduleIntervalMs: 3_600_000 });
const sqs = () => new SQSClient({ endpoint: t.stack.urls.sqs, region: t.stack.service.region, credentials: localCredentials });
afterEach(() => t.stack.receiver.setMode("up"));

const buyerId = "2088123456789012";

async function createOrder(user: string, amount = 1234) {
  const created = await t.createOrder(user, { merchantOrderId: merchantOrderId("ops"), amount, subject: "Coffee beans" });
  expect(created.status).toBe(201);
  return created.body as { orderId: string; orderString: string };
}

async function pay(order: { orderId: string; orderString: string }, scenario?: Record<string, unknown>) {
  if (scenario) expect((await t.sim("/sim/scenario", { outTradeNo: order.orderId, ...scenario })).status).toBe(200);
  const paid = await t.sim<{ tradeNo: string }>("/sim/pay", { orderString: order.orderString, buyerId });
  expect(paid.status).toBe(200);
  return paid.body;
}

const delivered = async (orderId: string) => {
  await waitFor(async () => t.stack.receiver.events.get(`evt_${orderId}_paid`), { what: `event of ${orderId} delivered` });
  return (await getOrder(orderId))!;
};

async function dlqDepth(logicalId: "CheckDeadLetterQueue" | "EventsDeadLetterQueue"): Promise<number> {
  const { Attributes } = await sqs().send(new GetQueueAttributesCommand({
    QueueUrl: t.stack.resources[logicalId]!.ref,
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
  }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe("order show", () => {
  it("shows a paid order with its history and event, the buyer masked and the order string hidden", async () => {
    const order = await createOrder("ops-show");
    const trade = await pay(order);
    const stored = await delivered(order.orderId);
    expect(stored.buyerId).toBe(buyerId); // so the masking below is tested on a real value

    const report = await showOrder(order.orderId);
    expect(report).toMatchObject({
      orderId: order.orderId,
      status: "PAID",
      amount: 1234,
      amountYuan: "12.34",
      tradeNo: trade.tradeNo,
      paidVia: "notify",
      buyerId: "2088********9012",
      event: { id: `evt_${order.orderId}_paid` },
      sweep: { inIndex: false },
      orderString: { present: true, length: order.orderString.length },
      refundsNeeded: [],
    });
    expect(report.createdAt).toBe(new Date(stored.createdAt).toISOString());
    expect(report.history.map((h) => h.event)).toEqual(["created", "paid"]);
    expect(report.history[1]!.detail).toBe(`notify ${trade.tradeNo}`);
    for (const output of [JSON.stringify(report), formatOrder(report)]) {
      expect(output).not.toContain(buyerId);
      expect(output).not.toContain(order.orderString);
      expect(output).not.toContain(order.orderString.slice(-40)); // the signature's end
    }
    expect(formatOrder(report)).toContain("1234 fen = 12.34 CNY");
  });

  it("shows a pending order as due for a sweep check, and the refunds it needs", async () => {
    const order = await createOrder("ops-pending", 990);
    const before = await showOrder(order.orderId);
    expect(before.status).toBe("PENDING");
    expect(before.expired).toBe(false);
    expect(before.sweep.inIndex).toBe(true);
    const stored = (await getOrder(order.orderId))!;
    expect(before.sweep).toEqual({ inIndex: true, nextCheckAt: new Date(stored.sweepAt!).toISOString(), dueNow: stored.sweepAt! <= Date.now() });

    await recordRefundNeeded(stored, { tradeNo: "2099010122001400000000000001", totalFen: 990, paidAt: Date.now(), via: "notify" }, "paid_after_close", Date.now());
    const after = await showOrder(order.orderId);
    expect(after.refundsNeeded).toEqual([expect.objectContaining({
      tradeNo: "2099010122001400000000000001",
      amount: 990,
      amountYuan: "9.90",
      reason: "paid_after_close",
      status: "REFUND_NEEDED",
      detectedVia: "notify",
    })]);
    expect(formatOrder(after)).toContain("Refunds needed: 1");
    // The runbook's scan for open refunds finds it (same expressions as RUNBOOK.md#refunds-needed).
    const { Items = [] } = await dynamo().send(new ScanCommand({
      TableName: t.stack.functionEnv.TABLE_NAME,
      FilterExpression: "begins_with(sk, :refund) AND #status = :needed",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":refund": "REFUND#", ":needed": "REFUND_NEEDED" },
      ProjectionExpression: "orderId, tradeNo, amountFen, reason, detectedAt",
    }));
    expect(Items).toContainEqual(expect.objectContaining({ orderId: order.orderId, tradeNo: "2099010122001400000000000001", amountFen: 990 }));

    // Recorded by hand as RUNBOOK.md#refunds-needed says: shown with who refunded it and when.
    const refundedAt = Date.now();
    await dynamo().send(new UpdateCommand({
      TableName: t.stack.functionEnv.TABLE_NAME,
      Key: { pk: `ORDER#${order.orderId}`, sk: "REFUND#2099010122001400000000000001" },
      ConditionExpression: "#status = :needed",
      UpdateExpression: "SET #status = :done, refundedAt = :at, refundedBy = :who, refundNote = :note",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":needed": "REFUND_NEEDED", ":done": "REFUNDED_MANUALLY", ":at": refundedAt, ":who": "ops", ":note": "R-1" },
    }));
    const recorded = await showOrder(order.orderId);
    expect(recorded.refundsNeeded[0]).toMatchObject({
      status: "REFUNDED_MANUALLY",
      refundedAt: new Date(refundedAt).toISOString(),
      refundedBy: "ops",
      refundNote: "R-1",
    });
    expect(formatOrder(recorded)).toContain("by ops: R-1");
  });

  it("fails clearly for an unknown order or a malformed id", async () => {
    await expect(showOrder("no_such_order")).rejects.toThrow(/no order no_such_order/);
    await expect(showOrder("no such order")).rejects.toBeInstanceOf(OpsError);
  });
});

describe("order recheck", () => {
  it("finds a payment whose notifications were all dropped", async () => {
    const order = await createOrder("ops-recheck");
    await pay(order, { dropFirst: 100 });
    // No notification gets through and no sweep runs: the order stays pending until the recheck.
    await new Promise((r) => setTimeout(r, 500));
    expect((await getOrder(order.orderId))?.status).toBe("PENDING");

    const report = await recheckOrder(order.orderId);
    expect(report.outcome).toBe("paid");
    expect(report.before.status).toBe("PENDING");
    expect(report.after).toMatchObject({ status: "PAID", paidVia: "query", buyerId: "2088********9012" });
    // Its event went out through the events queue; then there is nothing left to do.
    await delivered(order.orderId);
    expect((await recheckOrder(order.orderId)).outcome).toBe("settled");
  });

  it("leaves an unpaid, unexpired order waiting, and rejects an unknown one", async () => {
    const order = await createOrder("ops-waiting");
    const report = await recheckOrder(order.orderId);
    expect(report.outcome).toBe("waiting");
    expect(report.after.status).toBe("PENDING");
    await expect(recheckOrder("no_such_order")).rejects.toThrow(/no order/);
  });

  it("reports Alipay failing as an error the CLI explains, and changes nothing", async () => {
    const order = await createOrder("ops-recheck-fault");
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: order.orderId, mode: "system-error", count: 1 });
    const error = await recheckOrder(order.orderId).then(() => undefined, (e: unknown) => e);
    expect((error as Error | undefined)?.name).toBe("AlipayUnavailableError");
    const explained = explain(error, { local: false });
    expect(explained.message).toMatch(/^Alipay could not be asked: alipay\.trade\.query/);
    expect(explained.exitCode).toBe(1);
    // An amount mismatch is not "Alipay unavailable" to an operator: it is about money.
    const mismatch = explain(new AlipayUnavailableError(`alipay.trade.query: amount 1 differs from order ${order.orderId}`), { local: false });
    expect(mismatch.message).toMatch(/^Alipay reports a payment of another amount/);
    expect(mismatch.hint).toContain("RUNBOOK.md#stuck-orders");
    expect((await getOrder(order.orderId))?.status).toBe("PENDING");
    expect((await recheckOrder(order.orderId)).outcome).toBe("waiting");
  });
});

describe("dlq", () => {
  it("lists a dead-lettered event without removing it, and redrives it once the receiver is back", async () => {
    expect(await dlqDepth("EventsDeadLetterQueue")).toBe(0);
    t.stack.receiver.setMode("down");
    const order = await createOrder("ops-dlq");
    await pay(order);
    const eventId = `evt_${order.orderId}_paid`;
    await waitFor(async () => (await dlqDepth("EventsDeadLetterQueue")) > 0, { timeoutMs: 45_000, what: "the event dead-lettered" });

    const listing = await listDlq("events");
    expect(listing.dlqUrl).toBe(t.stack.resources.EventsDeadLetterQueue!.ref); // found through the RedrivePolicy
    expect(listing.messages).toHaveLength(1);
    const [message] = listing.messages;
    expect(JSON.parse(message!.body)).toMatchObject({ id: eventId, type: "order.paid", data: { orderId: order.orderId } });
    // Five failed deliveries (eventsMaxReceiveCount locally), then the move, then this listing.
    expect(message!.receiveCount).toBeGreaterThan(5);
    expect(Date.parse(message!.sentAt!)).toBeGreaterThan(Date.now() - 120_000);
    expect(formatListing(listing)).toContain(message!.messageId);
    // Listing removed nothing, and left the message visible for the next one.
    const again = await listDlq("events");
    expect(again.messages.map((m) => m.messageId)).toEqual([message!.messageId]);
    expect(await dlqDepth("EventsDeadLetterQueue")).toBe(1);
    expect((await showOrder(order.orderId)).event).toEqual({ id: eventId });
    expect(t.stack.receiver.events.has(eventId)).toBe(false);

    t.stack.receiver.setMode("up");
    const redrive = await redriveDlq("events");
    expect(redrive.moved).toBe(1);
    expect(redrive.failed).toEqual([]);
    expect(redrive.notDeleted).toEqual([]);
    expect(JSON.parse(redrive.movedMessages[0]!.body)).toMatchObject({ id: eventId, data: { orderId: order.orderId } });
    expect(redrive.remaining).toBe(0);
    // Nothing else re-sends an event: the redriven message is what delivers it.
    await delivered(order.orderId);
    expect(t.stack.receiver.events.get(eventId)?.deliveries).toBe(1);
    expect((await listDlq("events")).messages).toEqual([]);
  });

  it("redrives a check message to the check worker, which then finds the payment", async () => {
    const order = await createOrder("ops-check-dlq");
    await pay(order, { dropFirst: 100 });
    const dlqUrl = t.stack.resources.CheckDeadLetterQueue!.ref;
    await sqs().send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: JSON.stringify({ orderId: order.orderId }) }));

    const listing = await listDlq("check");
    expect(listing.dlqUrl).toBe(dlqUrl);
    expect(listing.messages.map((m) => JSON.parse(m.body))).toEqual([{ orderId: order.orderId }]);
    expect((await getOrder(order.orderId))?.status).toBe("PENDING");

    const redrive = await redriveDlq("check", { limit: 5 });
    expect(redrive.moved).toBe(1);
    const paid = await waitFor(async () => {
      const o = await getOrder(order.orderId);
      return o?.status === "PAID" && o;
    }, { what: "paid by the redriven check" });
    expect(paid.paidVia).toBe("query");
    expect(await dlqDepth("CheckDeadLetterQueue")).toBe(0);
    expect((await redriveDlq("check")).moved).toBe(0);
  });

  it("rejects an unknown queue and a bad limit", async () => {
    await expect(listDlq("nope" as never)).rejects.toThrow();
    await expect(redriveDlq("events", { limit: 0 })).rejects.toThrow(/--limit/);
  });
});

describe("event replay", () => {
  it("delivers a delivered event again: the receiver counts one more delivery of the same id", async () => {
    const order = await createOrder("ops-replay");
    await pay(order);
    await delivered(order.orderId);
    const eventId = `evt_${order.orderId}_paid`;
    const before = t.stack.receiver.events.get(eventId)!.deliveries;

    const report = await replayEvent(order.orderId);
    expect(report).toMatchObject({ orderId: order.orderId, eventId, outcome: "delivered" });
    expect(t.stack.receiver.events.get(eventId)!.deliveries).toBe(before + 1);
    expect(t.stack.receiver.events.size).toBeGreaterThan(0);

    // A receiver that refuses it: an error, and no delivery counted.
    t.stack.receiver.setMode("down");
    await expect(replayEvent(order.orderId)).rejects.toThrow(/not delivered: business webhook answered 503/);
    expect(t.stack.receiver.events.get(eventId)!.deliveries).toBe(before + 1);
  });

  it("refuses an order that has no paid event", async () => {
    const order = await createOrder("ops-replay-pending");
    await expect(replayEvent(order.orderId)).rejects.toThrow(/is PENDING: it has no paid event/);
    await expect(replayEvent("no_such_order")).rejects.toThrow(/no order/);
  });
});

describe("the CLI entry", () => {
  const dir = mkdtempSync(join(tmpdir(), "alipay-pay-ops-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Only what a shell needs: none of the functions' variables this process has.
  const bareEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
      execFile("npx", ["tsx", "ops/cli.ts", ...args], { cwd: projectRoot, env: bareEnv, timeout: 30_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolveRun({ code, stdout, stderr });
      });
    });

  it("prints help, exits non-zero with a clear message on errors, and works against a stack file", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["order show <orderId>", "order recheck <orderId>", "dlq list <check|events>", "dlq redrive <check|events>", "event replay <orderId>"]) {
      expect(help.stdout).toContain(command);
    }
    const commandHelp = await cli(["dlq", "redrive", "--help"]);
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toContain("deleted from the DLQ only after the send succeeded");

    const unconfigured = await cli(["order", "show", "abc"]);
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toMatch(/^error: Missing configuration: /);
    expect((await cli(["order", "frobnicate", "abc"])).code).toBe(2);

    const order = await createOrder("ops-cli");
    await pay(order);
    await delivered(order.orderId);
    const stackFile = join(dir, "stack.json");
    writeFileSync(stackFile, JSON.stringify({ urls: t.stack.urls, functionEnv: t.stack.functionEnv, resources: t.stack.resources }));

    const shown = await cli(["order", "show", order.orderId, "--stack-file", stackFile, "--json"]);
    expect(shown.stderr).toBe("");
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ orderId: order.orderId, status: "PAID", buyerId: "2088********9012" });
    expect(shown.stdout).not.toContain(buyerId);

    const unknown = await cli(["order", "show", "no_such_order", "--stack-file", stackFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: no order no_such_order");
    expect(unknown.stdout).toBe("");
  });
});

describe("RUNBOOK.md", () => {
  const runbook = readFileSync(join(projectRoot, "RUNBOOK.md"), "utf8");

  it("has a section for every alarm's link", () => {
    const alarms = readFileSync(join(projectRoot, "infra", "alarms.yml"), "utf8");
    const anchors = [...alarms.matchAll(/RUNBOOK\.md#([\w-]+)/g)].map((m) => m[1]!);
    expect(anchors.length).toBeGreaterThanOrEqual(20);
    const missing = anchors.filter((anchor) =>
      !runbook.includes(`<a id="${anchor}"></a>`) && !new RegExp(`^## ${anchor}$`, "m").test(runbook));
    expect(missing).toEqual([]);
  });

  it("only shows ops commands that the CLI accepts", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const lines = [...`${runbook}\n${readme}`.matchAll(/npm run ops -- ([^`\n]+)/g)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThan(15);
    for (const line of lines) {
      const argv = line
        .replace(/<check\\\|events>/g, "events")
        .replace(/<[^>]+>/g, "p_1")
        .replace(/\s#.*$/, "")
        .replace(/\)$/, "")
        .trim()
        .split(/\s+/);
      const invocation = parseArgs(argv);
      expect(invocation.help || invocation.command !== undefined, line).toBe(true);
    }
  });
});
