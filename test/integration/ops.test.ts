// The ops CLI (ops/) against a whole local stack: its command functions in-process (useStack puts
// the functions' environment on process.env, exactly what the CLI reads), and the real entry as a
// child process. The sweep never fires in this file, so what the commands do is not raced (or
// done for them) by the scheduled check worker. Registry changes are seen by the functions once
// their registry cache (BUSINESS_CACHE_SECONDS, 1 s locally) runs out: the tests wait that long.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { dynamo } from "../../lib/aws.js";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { businessSystem } from "../../lib/business/registry.js";
import { getPayment, recordRefundNeeded } from "../../lib/payments/repository.js";
import { getRefund } from "../../lib/refunds/repository.js";
import { signatureHeader, verifyWebhook } from "../../lib/webhookSignature.js";
import { localCredentials } from "../../local/engines.js";
import { projectRoot } from "../../local/serverlessConfig.js";
import { parseArgs } from "../../ops/args.js";
import {
  addBusiness,
  listBusinesses,
  rotateWebhookSecret,
  type SecretStore,
  secretLocation,
  setBusinessStatus,
  showBusiness,
  updateBusiness,
} from "../../ops/business.js";
import { listDlq, redriveDlq } from "../../ops/dlq.js";
import { explain } from "../../ops/environment.js";
import { OpsError } from "../../ops/errors.js";
import { replayEvent } from "../../ops/events.js";
import { listPublishFailures, replayPublishFailures } from "../../ops/publishFailures.js";
import { tryBusiness, tryTarget } from "../../ops/businessTry.js";
import {
  formatBusiness,
  formatBusinessList,
  formatListing,
  formatPayment,
  formatPublishFailures,
  formatPublishReplay,
  formatRefund,
  formatRefundList,
  formatRetry,
} from "../../ops/format.js";
import { findPayment, recheckPayment, showPayment } from "../../ops/payments.js";
import { listRefunds, retryRefund, showRefund } from "../../ops/refunds.js";
import { useStack, waitFor } from "./harness.js";

// Refunds wait for a person's `refund retry` here (the sweep is slowed to an hour): not sent from their write.
const t = useStack({ scheduleIntervalMs: 3_600_000, env: { LOCAL_REFUNDS_AT_ONCE: "false" } });
const sqs = () => new SQSClient({ endpoint: t.stack.urls.sqs, region: t.stack.service.region, credentials: localCredentials });
afterEach(() => {
  for (const receiver of Object.values(t.stack.receivers)) receiver.setMode("up");
});

const buyerId = "2088123456789012";
/** Longer than the functions' registry cache (1 s locally). */
const registryCacheRunsOut = () => new Promise((r) => setTimeout(r, 1_300));
const files = (): SecretStore => ({ kind: "file", dir: t.stack.keysDir });
const code = (error: unknown) => (error instanceof OpsError ? error.exitCode : undefined);
const failure = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );

interface Opened {
  payment: { paymentId: string; businessOrderId: string };
  attempt: { outTradeNo: string; orderString: string };
}

async function pay(opened: Opened, scenario?: Record<string, unknown>) {
  if (scenario) expect((await t.sim("/sim/scenario", { outTradeNo: opened.attempt.outTradeNo, ...scenario })).status).toBe(200);
  const paid = await t.sim<{ tradeNo: string }>("/sim/pay", { orderString: opened.attempt.orderString, buyerId });
  expect(paid.status).toBe(200);
  return paid.body;
}

const delivered = async (paymentId: string, { system = "shop", kind = "succeeded" } = {}) => {
  await waitFor(async () => t.stack.receivers[system]!.events.get(`evt_${paymentId}_${kind}`), {
    what: `event of ${paymentId} delivered to ${system}`,
  });
  return (await getPayment(paymentId))!;
};

async function dlqDepth(logicalId: "CheckDeadLetterQueue" | "EventsDeadLetterQueue"): Promise<number> {
  const { Attributes } = await sqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: t.stack.resources[logicalId]!.ref,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** A webhook that keeps every request as it came (raw body, signature header) and answers 200. */
async function startCapturingWebhook() {
  const received: Array<{ body: string; signature: string; event: { id: string; type: string } }> = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    received.push({ body, signature: String(req.headers[signatureHeader] ?? ""), event: JSON.parse(body) });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/events`;
  return {
    url,
    received,
    deliveriesOf: (eventId: string) => received.filter((r) => r.event.id === eventId),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The header split into one header per v1= signature (each verifies with one secret only). */
const singleSignatures = (header: string) => {
  const parts = header.split(",");
  const timestamp = parts.find((p) => p.startsWith("t="))!;
  return parts.filter((p) => p.startsWith("v1=")).map((v1) => `${timestamp},${v1}`);
};

describe("business systems", () => {
  const booksRole = "arn:aws:iam::123456789012:role/books-payments-caller";
  const spareRole = "arn:aws:iam::000000000000:role/membership-payments-caller-v2";
  let webhook: Awaited<ReturnType<typeof startCapturingWebhook>>;
  let firstSecret = "";
  let membershipRole = "";
  beforeAll(async () => {
    webhook = await startCapturingWebhook();
    membershipRole = t.stack.businessCredentials.membership!.roleArn;
  });
  afterAll(async () => {
    await webhook?.close();
    // Give membership its caller back (the other tests use it as the sample system).
    const books = await showBusiness("books");
    await updateBusiness("books", { removePrincipals: books.principals.filter((p) => p !== booksRole) });
    await updateBusiness("membership", { addPrincipals: [membershipRole], removePrincipals: [spareRole] });
    await registryCacheRunsOut();
  });

  it("adds a system: a new secret in the keys dir, printed once, never listed", async () => {
    const added = await addBusiness({ businessId: "books", principals: [booksRole], webhookUrl: webhook.url }, { secrets: files() });
    expect(added.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    firstSecret = added.webhookSecret;
    const secretFile = join(t.stack.keysDir, "webhook-books-1.txt");
    expect(readFileSync(secretFile, "utf8")).toBe(firstSecret);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(added.takesEffectWithinSeconds).toBe(1);
    expect(added.system).toMatchObject({
      businessId: "books",
      status: "ACTIVE",
      principals: [booksRole],
      webhookUrl: webhook.url,
      paymentExpirySeconds: 1800,
      webhookSecretRef: `file:${secretFile}`,
      rotation: { overlapActive: false },
    });
    expect(await businessSystem("books", { fresh: true })).toMatchObject({
      businessId: "books",
      status: "ACTIVE",
      webhookSecretRef: `file:${secretFile}`,
    });

    const listing = await listBusinesses();
    expect(listing.systems.map((s) => s.businessId)).toEqual(["books", "membership", "shop"]);
    expect(listing.systems.find((s) => s.businessId === "shop")).toMatchObject({
      principals: [t.stack.businessCredentials.shop!.roleArn],
      status: "ACTIVE",
    });
    const shopSecret = readFileSync(join(t.stack.keysDir, "webhook-shop.txt"), "utf8").trim();
    const shown = await showBusiness("books");
    for (const output of [JSON.stringify(listing), formatBusinessList(listing), JSON.stringify(shown), formatBusiness(shown)]) {
      expect(output).not.toContain(firstSecret);
      expect(output).not.toContain(shopSecret);
    }
    expect(formatBusinessList(listing)).toMatch(/^books\s+ACTIVE\s+arn:aws:iam::123456789012:role\/books-payments-caller\s/m);

    // Never twice, and never over another registration.
    const again = await failure(
      addBusiness({ businessId: "books", principals: [booksRole], webhookUrl: webhook.url }, { secrets: files() }),
    );
    expect(again?.message).toMatch(/already registered/);
    expect(code(again)).toBe(1);
    expect(existsSync(join(t.stack.keysDir, "webhook-books-2.txt"))).toBe(false);
  });

  it("refuses bad ids, ARNs, URLs and a caller that belongs to another system", async () => {
    const add = (input: Partial<Parameters<typeof addBusiness>[0]>) =>
      failure(
        addBusiness(
          {
            businessId: "newbiz",
            principals: [booksRole.replace("books", "newbiz")],
            webhookUrl: "https://newbiz.example.com/events",
            ...input,
          },
          { secrets: files() },
        ),
      );
    for (const businessId of ["Books", "b", "1books", "books_2", "x".repeat(33)]) {
      const error = await add({ businessId });
      expect(code(error), businessId).toBe(2);
      expect(error?.message).toMatch(/is not a business id/);
    }
    expect((await add({ principals: ["books-payments-caller"] }))?.message).toMatch(/not an IAM role or user ARN/);
    expect(code(await add({ principals: ["arn:aws:iam::12345:role/x"] }))).toBe(2);
    const session = await add({ principals: ["arn:aws:sts::000000000000:assumed-role/newbiz-caller/session-1"] });
    expect(code(session)).toBe(2);
    expect((session as OpsError).hint).toContain("arn:aws:iam::000000000000:role/newbiz-caller");
    expect(code(await add({ principals: [] }))).toBe(2);
    for (const webhookUrl of [
      "http://newbiz.example.com/events",
      "newbiz.example.com/events",
      "https://user:pw@newbiz.example.com/events",
      "ftp://x/y",
    ]) {
      expect(code(await add({ webhookUrl })), webhookUrl).toBe(2);
    }
    expect(code(await add({ paymentExpirySeconds: 60 }))).toBe(2);
    const taken = await add({ principals: [t.stack.businessCredentials.shop!.roleArn] });
    expect(code(taken)).toBe(1);
    expect(taken?.message).toMatch(/already calls for business system shop/);
    // The same role with a path is the same role.
    expect((await add({ principals: [booksRole.replace("role/", "role/team/")] }))?.message).toMatch(
      /already calls for business system books/,
    );
    expect(await businessSystem("newbiz", { fresh: true })).toBeUndefined();
    expect(existsSync(join(t.stack.keysDir, "webhook-newbiz-1.txt"))).toBe(false);
    // On AWS the secret is an SSM SecureString of the stage.
    expect(secretLocation({ kind: "ssm", stage: "prod" }, "books", 1)).toEqual({
      location: "/alipay-pay/prod/business/books/webhook-secret-1",
      reference: "ssm:/alipay-pay/prod/business/books/webhook-secret-1",
    });
  });

  it("moves a caller to the new system: its calls act for it, get 403 while it is disabled and pass again once enabled", async () => {
    // Membership's local credentials stand in for the new system's caller: the role moves over.
    const moved = await updateBusiness("membership", { addPrincipals: [spareRole], removePrincipals: [membershipRole] });
    expect(moved.changes).toEqual([`principal removed: ${membershipRole}`, `principal added: ${spareRole}`]);
    expect(moved.system.principals).toEqual([spareRole]);
    const added = await updateBusiness("books", { addPrincipals: [membershipRole] });
    expect(added.system.principals).toEqual([booksRole, membershipRole]);
    expect(added.takesEffectWithinSeconds).toBe(1);
    await registryCacheRunsOut();

    const created = await t.createPayment({ userId: "reader", amount: 4200 }, { system: "membership" });
    expect(created.status).toBe(201);
    expect((await getPayment(created.body.paymentId))?.businessId).toBe("books");

    const disabled = await setBusinessStatus("books", "DISABLED");
    expect(disabled).toMatchObject({ changed: true, system: { status: "DISABLED" }, takesEffectWithinSeconds: 1 });
    expect((await setBusinessStatus("books", "DISABLED")).changed).toBe(false);
    await registryCacheRunsOut();
    const refused = await t.createPayment({ userId: "reader" }, { system: "membership" });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("forbidden");
    expect((await t.business("membership").getPayment(created.body.paymentId)).status).toBe(403);
    // Another system is not affected.
    expect((await t.createPayment({ userId: "reader" }, { system: "shop" })).status).toBe(201);

    expect((await setBusinessStatus("books", "ACTIVE")).system.status).toBe("ACTIVE");
    await registryCacheRunsOut();
    expect((await t.business("membership").getPayment(created.body.paymentId)).status).toBe(200);
    expect((await t.createPayment({ userId: "reader" }, { system: "membership" })).status).toBe(201);
  });

  it("rotates the secret: during the overlap every event carries two signatures, one per secret", async () => {
    const opened = (await t.openPayment("reader", 1500, { system: "membership" })) as Opened;
    await pay(opened);
    const firstEventId = `evt_${opened.payment.paymentId}_succeeded`;
    const [before] = await waitFor(async () => webhook.deliveriesOf(firstEventId).length > 0 && webhook.deliveriesOf(firstEventId), {
      what: "books' first event",
    });
    expect(singleSignatures(before!.signature)).toHaveLength(1);
    expect(verifyWebhook(firstSecret, before!.body, before!.signature)).toBe(true);

    const startedAt = Date.now();
    const rotated = await rotateWebhookSecret("books", { secrets: files() });
    const secondSecret = rotated.webhookSecret;
    expect(secondSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(secondSecret).not.toBe(firstSecret);
    expect(rotated.generation).toBe(2);
    expect(readFileSync(join(t.stack.keysDir, "webhook-books-2.txt"), "utf8")).toBe(secondSecret);
    expect(rotated.system.webhookSecretRef).toBe(`file:${join(t.stack.keysDir, "webhook-books-2.txt")}`);
    expect(rotated.system.rotation).toMatchObject({
      overlapActive: true,
      previousWebhookSecretRef: `file:${join(t.stack.keysDir, "webhook-books-1.txt")}`,
    });
    const until = Date.parse((rotated.system.rotation as { previousSecretUntil: string }).previousSecretUntil);
    expect(until - startedAt).toBeGreaterThanOrEqual(24 * 3_600_000 - 1_000);
    expect(until - startedAt).toBeLessThanOrEqual(24 * 3_600_000 + 5_000);
    expect((await listBusinesses()).systems.find((s) => s.businessId === "books")?.rotation.overlapActive).toBe(true);
    expect(JSON.stringify(await listBusinesses())).not.toContain(secondSecret);
    // A second rotation would cut the old secret's overlap short.
    const early = await failure(rotateWebhookSecret("books", { secrets: files() }));
    expect(early?.message).toMatch(/still in the overlap/);
    expect(existsSync(join(t.stack.keysDir, "webhook-books-3.txt"))).toBe(false);
    await registryCacheRunsOut();

    const next = (await t.openPayment("reader", 1600, { system: "membership" })) as Opened;
    await pay(next);
    const eventId = `evt_${next.payment.paymentId}_succeeded`;
    const [during] = await waitFor(async () => webhook.deliveriesOf(eventId).length > 0 && webhook.deliveriesOf(eventId), {
      what: "books' event during the overlap",
    });
    const signatures = singleSignatures(during!.signature);
    expect(signatures).toHaveLength(2);
    // A receiver that knows either secret accepts it; each signature is made with one of them.
    expect(verifyWebhook(firstSecret, during!.body, during!.signature)).toBe(true);
    expect(verifyWebhook(secondSecret, during!.body, during!.signature)).toBe(true);
    expect(signatures.map((s) => [verifyWebhook(secondSecret, during!.body, s), verifyWebhook(firstSecret, during!.body, s)])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(verifyWebhook("0".repeat(64), during!.body, during!.signature)).toBe(false);

    // A replay during the overlap is signed the same way.
    const replay = await replayEvent(opened.payment.paymentId);
    expect(replay).toMatchObject({
      eventId: firstEventId,
      type: "payment.succeeded",
      businessId: "books",
      webhookUrl: webhook.url,
      signatures: 2,
    });
    const replayed = webhook.deliveriesOf(firstEventId).at(-1)!;
    expect(webhook.deliveriesOf(firstEventId)).toHaveLength(2);
    expect(
      verifyWebhook(firstSecret, replayed.body, replayed.signature) && verifyWebhook(secondSecret, replayed.body, replayed.signature),
    ).toBe(true);

    // A leaked secret: rotate with no overlap, only the newest signs.
    const leaked = await rotateWebhookSecret("books", { secrets: files(), overlapHours: 0 });
    expect(leaked.generation).toBe(3);
    expect(leaked.system.rotation.overlapActive).toBe(false);
    expect(leaked.system.rotation).not.toHaveProperty("previousWebhookSecretRef");
    expect((await replayEvent(opened.payment.paymentId)).signatures).toBe(1);
    const last = webhook.deliveriesOf(firstEventId).at(-1)!;
    expect(verifyWebhook(leaked.webhookSecret, last.body, last.signature)).toBe(true);
    expect(verifyWebhook(secondSecret, last.body, last.signature)).toBe(false);
  });

  it("updates only what is asked, conditionally: concurrent changes never undo each other", async () => {
    const seen = await showBusiness("books");
    const changed = await updateBusiness(
      "books",
      { webhookUrl: `${webhook.url}?v=2`, paymentExpirySeconds: 600 },
      { ifUpdatedAt: Date.parse(seen.updatedAt) },
    );
    expect(changed.changes).toHaveLength(2);
    expect(changed.system).toMatchObject({
      webhookUrl: `${webhook.url}?v=2`,
      paymentExpirySeconds: 600,
      principals: seen.principals,
      webhookSecretRef: seen.webhookSecretRef,
    });
    // Written against the version seen before that change: refused.
    expect(
      (await failure(updateBusiness("books", { paymentExpirySeconds: 900 }, { ifUpdatedAt: Date.parse(seen.updatedAt) })))?.message,
    ).toMatch(/was changed at/);
    expect((await failure(updateBusiness("books", {})))?.message).toMatch(/nothing to change/);
    expect((await failure(updateBusiness("books", { removePrincipals: [spareRole] })))?.message).toMatch(/has no principal/);
    expect((await failure(updateBusiness("nobody", { paymentExpirySeconds: 900 })))?.message).toMatch(/no business system nobody/);
    expect((await failure(updateBusiness("books", { removePrincipals: [booksRole, membershipRole] })))?.message).toMatch(
      /no principal left/,
    );

    // Five operators at once, each adding a role: every write either lands or fails as a conflict;
    // whatever landed is in the item (no lost update).
    const roles = [1, 2, 3, 4, 5].map((n) => `arn:aws:iam::123456789012:role/books-extra-${n}`);
    const outcomes = await Promise.allSettled(roles.map((role) => updateBusiness("books", { addPrincipals: [role] })));
    const landed = roles.filter((_, i) => outcomes[i]!.status === "fulfilled");
    expect(landed.length).toBeGreaterThanOrEqual(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect(String(outcome.reason)).toMatch(/changed \(or removed\) by someone else/);
    }
    const after = await showBusiness("books");
    expect(after.principals.filter((p) => roles.includes(p)).sort()).toEqual(landed.sort());
    expect(after.principals).toEqual(expect.arrayContaining([booksRole, membershipRole]));
  });

  it("rotates a sample system's secret with no overlap (the leaked-secret procedure): its local receiver follows", async () => {
    const rotated = await rotateWebhookSecret("shop", { secrets: files(), overlapHours: 0 });
    expect(rotated.system.rotation.overlapActive).toBe(false);
    await registryCacheRunsOut();
    const rejectedBefore = t.stack.receivers.shop!.rejected;
    const opened = (await t.openPayment("reader", 1700)) as Opened;
    await pay(opened);
    // Only the new secret signs now: a receiver still holding the first one would refuse every event.
    await delivered(opened.payment.paymentId);
    expect(t.stack.receivers.shop!.rejected).toBe(rejectedBefore);
  });
});

describe("payment show and find", () => {
  it("shows a paid payment with its attempts, history and event, the buyer masked and no order string", async () => {
    const opened = (await t.openPayment("ops-show", 1234)) as Opened;
    const trade = await pay(opened);
    const stored = await delivered(opened.payment.paymentId);
    expect(stored.buyerId).toBe(buyerId); // so the masking below is tested on a real value

    const report = await showPayment(opened.payment.paymentId);
    expect(report).toMatchObject({
      paymentId: opened.payment.paymentId,
      businessId: "shop",
      businessOrderId: opened.payment.businessOrderId,
      userId: "ops-show",
      status: "PAID",
      amount: 1234,
      amountYuan: "12.34",
      tradeNo: trade.tradeNo,
      paidVia: "notify",
      buyerId: "2088********9012",
      attempts: [{ attemptNo: 1, outTradeNo: opened.attempt.outTradeNo, status: "PAID", tradeNo: trade.tradeNo }],
      event: { id: `evt_${opened.payment.paymentId}_succeeded`, type: "payment.succeeded" },
      sweep: { inIndex: false },
      refundsNeeded: [],
    });
    expect(report.createdAt).toBe(new Date(stored.createdAt).toISOString());
    expect(report.history.map((h) => h.event)).toEqual(["created", "attempt", "paid"]);
    expect(report.history[2]!.detail).toContain(trade.tradeNo);
    for (const output of [JSON.stringify(report), formatPayment(report)]) {
      expect(output).not.toContain(buyerId);
      expect(output).not.toContain(opened.attempt.orderString);
      expect(output).not.toContain(opened.attempt.orderString.slice(-40)); // the signature's end
    }
    expect(formatPayment(report)).toContain("1234 fen = 12.34 CNY");
    expect(formatPayment(report)).toContain(`shop, order ${opened.payment.businessOrderId}`);

    // By business order, and by an attempt's out_trade_no.
    expect((await findPayment("shop", opened.payment.businessOrderId)).paymentId).toBe(opened.payment.paymentId);
    expect((await showPayment(opened.attempt.outTradeNo)).paymentId).toBe(opened.payment.paymentId);
    const elsewhere = await failure(findPayment("membership", opened.payment.businessOrderId));
    expect(elsewhere?.message).toMatch(/no payment of membership for business order/);
    expect(code(await failure(findPayment("Shop!", "x")))).toBe(2);
  });

  it("shows an open payment's pending attempt, its next sweep check, and the refunds it needs", async () => {
    const opened = (await t.openPayment("ops-pending", 990)) as Opened;
    const shownFrom = Date.now();
    const before = await showPayment(opened.payment.paymentId);
    const shownUntil = Date.now();
    expect(before).toMatchObject({ status: "OPEN", expired: false, attempts: [{ attemptNo: 1, status: "PENDING" }] });
    // No longer stored: signed again from the pending attempt whenever the app asks (lib/payments/attempts.ts).
    expect(JSON.stringify(before)).not.toContain(opened.attempt.orderString.slice(-40));
    expect(before.event).toBeUndefined();
    const stored = (await getPayment(opened.payment.paymentId))!;
    expect(before.sweep).toEqual({ inIndex: true, nextCheckAt: new Date(stored.sweepAt!).toISOString(), dueNow: expect.any(Boolean) });
    // Due as of when it was shown (a check time inside that window may read either way).
    if (stored.sweepAt! <= shownFrom) expect(before.sweep).toMatchObject({ dueNow: true });
    if (stored.sweepAt! > shownUntil) expect(before.sweep).toMatchObject({ dueNow: false });

    const tradeNo = "2099010122001400000000000001";
    await recordRefundNeeded(stored, 1, { tradeNo, totalFen: 990, paidAt: Date.now(), via: "notify" }, "paid_after_close", Date.now());
    const after = await showPayment(opened.payment.paymentId);
    expect(after.refundsNeeded).toEqual([
      expect.objectContaining({
        tradeNo,
        attemptNo: 1,
        amount: 990,
        amountYuan: "9.90",
        reason: "paid_after_close",
        status: "REFUND_NEEDED",
        detectedVia: "notify",
      }),
    ]);
    expect(formatPayment(after)).toContain("Refunds needed: 1");
    // A scan for open refunds finds it.
    const { Items = [] } = await dynamo().send(
      new ScanCommand({
        TableName: t.stack.functionEnv.TABLE_NAME,
        FilterExpression: "begins_with(sk, :refund) AND #status = :needed",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":refund": "REFUND#", ":needed": "REFUND_NEEDED" },
        ProjectionExpression: "paymentId, businessId, tradeNo, amountFen, reason, detectedAt",
      }),
    );
    expect(Items).toContainEqual(
      expect.objectContaining({ paymentId: opened.payment.paymentId, businessId: "shop", tradeNo, amountFen: 990 }),
    );

    // Recorded by hand as RUNBOOK.md#refunds-needed says: shown with who refunded it and when.
    const refundedAt = Date.now();
    await dynamo().send(
      new UpdateCommand({
        TableName: t.stack.functionEnv.TABLE_NAME,
        Key: { pk: `PAYMENT#${opened.payment.paymentId}`, sk: `REFUND#${tradeNo}` },
        ConditionExpression: "#status = :needed",
        UpdateExpression: "SET #status = :done, refundedAt = :at, refundedBy = :who, refundNote = :note",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":needed": "REFUND_NEEDED",
          ":done": "REFUNDED_MANUALLY",
          ":at": refundedAt,
          ":who": "ops",
          ":note": "R-1",
        },
      }),
    );
    const recorded = await showPayment(opened.payment.paymentId);
    expect(recorded.refundsNeeded[0]).toMatchObject({
      status: "REFUNDED_MANUALLY",
      refundedAt: new Date(refundedAt).toISOString(),
      refundedBy: "ops",
      refundNote: "R-1",
    });
    expect(formatPayment(recorded)).toContain("by ops: R-1");
  });

  it("fails clearly for an unknown payment or a malformed id", async () => {
    const unknown = `pay${"0".repeat(29)}`;
    const missing = await failure(showPayment(unknown));
    expect(missing?.message).toMatch(new RegExp(`no payment ${unknown}`));
    expect(code(missing)).toBe(1);
    expect(code(await failure(showPayment("no such payment")))).toBe(2);
    expect(code(await failure(showPayment("ord_123")))).toBe(2);
  });
});

describe("payment recheck", () => {
  it("finds a payment whose notifications were all dropped", async () => {
    const opened = (await t.openPayment("ops-recheck")) as Opened;
    await pay(opened, { dropFirst: 100 });
    // No notification gets through and no sweep runs: the payment stays open until the recheck.
    await new Promise((r) => setTimeout(r, 500));
    expect((await getPayment(opened.payment.paymentId))?.status).toBe("OPEN");

    const report = await recheckPayment(opened.payment.paymentId);
    expect(report.outcome).toBe("paid");
    expect(report.before.status).toBe("OPEN");
    expect(report.after).toMatchObject({ status: "PAID", paidVia: "query", buyerId: "2088********9012", attempts: [{ status: "PAID" }] });
    // Its event went out through the stream and the events queue; then there is nothing left to do.
    await delivered(opened.payment.paymentId);
    expect((await recheckPayment(opened.payment.paymentId)).outcome).toBe("settled");
  });

  it("leaves an unpaid, unexpired payment waiting, and rejects an unknown one", async () => {
    const opened = (await t.openPayment("ops-waiting")) as Opened;
    const report = await recheckPayment(opened.payment.paymentId);
    expect(report.outcome).toBe("waiting");
    expect(report.after).toMatchObject({ status: "OPEN", attempts: [{ status: "PENDING" }] });
    expect((await failure(recheckPayment(`pay${"0".repeat(29)}`)))?.message).toMatch(/no payment/);
  });

  it("reports Alipay failing as an error the CLI explains, and changes nothing", async () => {
    const opened = (await t.openPayment("ops-recheck-fault")) as Opened;
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: opened.attempt.outTradeNo, mode: "system-error", count: 1 });
    const error = await failure(recheckPayment(opened.payment.paymentId));
    expect(error?.name).toBe("AlipayUnavailableError");
    const explained = explain(error, { local: false });
    expect(explained.message).toMatch(/^Alipay could not be asked: alipay\.trade\.query/);
    expect(explained.exitCode).toBe(1);
    // An amount mismatch is not "Alipay unavailable" to an operator: it is about money.
    const mismatch = explain(new AlipayUnavailableError(`alipay.trade.query: amount 1 differs from payment ${opened.payment.paymentId}`), {
      local: false,
    });
    expect(mismatch.message).toMatch(/^Alipay reports a payment of another amount/);
    expect(mismatch.hint).toContain("RUNBOOK.md#stuck-orders");
    expect((await getPayment(opened.payment.paymentId))?.status).toBe("OPEN");
    expect((await recheckPayment(opened.payment.paymentId)).outcome).toBe("waiting");
  });
});

describe("refund list, show and retry", () => {
  // The sweep never fires here: a requested refund stays PENDING, never sent, until `refund retry`.
  let refundKeys = 0;
  const requestRefund = async (paymentId: string, amount: number, reason = "returned goods") => {
    const answer = await t.business("shop").createRefund(paymentId, { amount, reason }, `ops-refund-${Date.now()}-${(refundKeys += 1)}`);
    expect(answer.status).toBe(201);
    return answer.body as { refundId: string; status: string };
  };
  const paidPayment = async (user: string, amount: number) => {
    const opened = (await t.openPayment(user, amount)) as Opened;
    await pay(opened);
    await delivered(opened.payment.paymentId);
    return opened;
  };
  const simTrade = async (outTradeNo: string) => (await t.sim<any>(`/sim/trades/${encodeURIComponent(outTradeNo)}`)).body;
  // Each test waits for its refund's event at shop: one still in flight would dead-letter when the
  // dlq tests below take the receiver down.
  const refundEventDelivered = (refundId: string) =>
    waitFor(async () => t.stack.receivers.shop!.events.get(`evt_${refundId}_succeeded`), {
      what: `refund.succeeded of ${refundId} at shop`,
    });

  it("lists and shows a refund asked for over the business API, payment show counts it, and retry refunds it once", async () => {
    const opened = await paidPayment("ops-refund", 1000);
    const { paymentId } = opened.payment;
    const stored = (await getPayment(paymentId))!;
    expect(stored.buyerId).toBe(buyerId);
    const requested = await requestRefund(paymentId, 300);
    expect(requested.status).toBe("PENDING");

    const listing = await listRefunds(paymentId);
    expect(listing).toMatchObject({
      paymentId,
      businessId: "shop",
      paymentStatus: "PAID",
      totals: { paid: 1000, refunded: 0, pending: 300, recorded: 300, left: 700, consistent: true },
      refunds: [
        {
          refundId: requested.refundId,
          kind: "requested",
          amount: 300,
          amountYuan: "3.00",
          reason: "returned goods",
          status: "PENDING",
          outRequestNo: requested.refundId,
          tradeNo: stored.tradeNo,
          outTradeNo: opened.attempt.outTradeNo,
          sweep: { inIndex: true, dueNow: true },
        },
      ],
    });
    expect(listing.refunds[0]!.sentAt).toBeUndefined();
    const shown = await showRefund(paymentId, requested.refundId);
    expect(shown).toEqual(listing.refunds[0]);
    const payment = await showPayment(paymentId);
    expect(payment.refunds).toEqual(listing.refunds);
    expect(payment.refunded).toEqual(listing.totals);
    for (const output of [
      JSON.stringify(listing),
      formatRefundList(listing),
      formatRefund(shown),
      JSON.stringify(payment),
      formatPayment(payment),
    ]) {
      expect(output).not.toContain(buyerId);
    }
    expect(formatRefundList(listing)).toContain(
      `${requested.refundId}  requested  300 fen = 3.00 CNY  PENDING  out_request_no ${requested.refundId}`,
    );
    expect(formatPayment(payment)).toContain("refunded 0 fen = 0.00 CNY, pending 300 fen, left to refund 700 fen of 1000");

    const retried = await retryRefund(paymentId, requested.refundId);
    expect(retried).toMatchObject({
      outcome: "succeeded",
      before: { status: "PENDING", sent: false },
      after: {
        status: "SUCCEEDED",
        event: { id: `evt_${requested.refundId}_succeeded`, type: "refund.succeeded" },
        sweep: { inIndex: false },
      },
    });
    expect(retried.after.sentAt).toBeDefined();
    expect(formatRetry(retried)).toContain("succeeded (PENDING -> SUCCEEDED)");
    const trade = await simTrade(opened.attempt.outTradeNo);
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[requested.refundId, 300]]);
    expect((await showPayment(paymentId)).refunded).toMatchObject({
      refunded: 300,
      refundedYuan: "3.00",
      pending: 0,
      recorded: 300,
      left: 700,
    });
    await refundEventDelivered(requested.refundId);

    // Only a PENDING refund is retried; bad and unknown ids fail clearly.
    const again = await failure(retryRefund(paymentId, requested.refundId));
    expect(again?.message).toMatch(/is SUCCEEDED: only a PENDING refund can be retried/);
    expect(code(again)).toBe(1);
    expect(code(await failure(showRefund(paymentId, "refdeadbeef")))).toBe(2);
    const unknown = await failure(showRefund(paymentId, `ref${"0".repeat(29)}`));
    expect(unknown?.message).toMatch(/has no refund/);
    expect(code(unknown)).toBe(1);
    expect(code(await failure(listRefunds(`pay${"0".repeat(29)}`)))).toBe(1);
    expect(() => parseArgs(["refund", "show", paymentId])).toThrow(/missing argument/);
  });

  it("retries a refund whose Alipay call failed: the same out_request_no, one refund at Alipay", async () => {
    const opened = await paidPayment("ops-refund-fault", 800);
    const { paymentId } = opened.payment;
    await t.sim("/sim/faults", { method: "alipay.trade.refund", outTradeNo: opened.attempt.outTradeNo, mode: "5xx", count: 1 });
    const requested = await requestRefund(paymentId, 800, "order canceled");

    const error = await failure(retryRefund(paymentId, requested.refundId));
    expect(error?.name).toBe("AlipayUnavailableError");
    expect(explain(error, { local: false }).message).toMatch(/^Alipay could not be asked/);
    // Sent (its outcome unknown), still PENDING: the next try asks the refund query first.
    const pending = await showRefund(paymentId, requested.refundId);
    expect(pending).toMatchObject({ status: "PENDING" });
    expect(pending.sentAt).toBeDefined();

    const retried = await retryRefund(paymentId, requested.refundId);
    expect(retried).toMatchObject({ outcome: "succeeded", before: { status: "PENDING", sent: true }, after: { status: "SUCCEEDED" } });
    const trade = await simTrade(opened.attempt.outTradeNo);
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[requested.refundId, 800]]);
    expect(trade.refundedFen).toBe(800);
    expect((await getRefund(paymentId, requested.refundId))?.status).toBe("SUCCEEDED");
    expect((await listRefunds(paymentId)).totals).toMatchObject({ refunded: 800, pending: 0, left: 0, consistent: true });
    await refundEventDelivered(requested.refundId);
  });
});

describe("dlq", () => {
  it("lists a dead-lettered event without removing it, and redrives it once the receiver is back", async () => {
    expect(await dlqDepth("EventsDeadLetterQueue")).toBe(0);
    t.stack.receiver.setMode("down");
    const opened = (await t.openPayment("ops-dlq")) as Opened;
    await pay(opened);
    const eventId = `evt_${opened.payment.paymentId}_succeeded`;
    await waitFor(async () => (await dlqDepth("EventsDeadLetterQueue")) > 0, { timeoutMs: 45_000, what: "the event dead-lettered" });

    const listing = await listDlq("events");
    expect(listing.dlqUrl).toBe(t.stack.resources.EventsDeadLetterQueue!.ref); // found through the RedrivePolicy
    expect(listing.messages).toHaveLength(1);
    const [message] = listing.messages;
    expect(JSON.parse(message!.body)).toMatchObject({
      id: eventId,
      type: "payment.succeeded",
      businessId: "shop",
      data: { payment: { paymentId: opened.payment.paymentId, status: "PAID" } },
    });
    // Five failed deliveries (eventsMaxReceiveCount locally), then the move, then this listing.
    expect(message!.receiveCount).toBeGreaterThan(5);
    expect(Date.parse(message!.sentAt!)).toBeGreaterThan(Date.now() - 120_000);
    expect(formatListing(listing)).toContain(message!.messageId);
    // Listing removed nothing, and left the message visible for the next one.
    const again = await listDlq("events");
    expect(again.messages.map((m) => m.messageId)).toEqual([message!.messageId]);
    expect(await dlqDepth("EventsDeadLetterQueue")).toBe(1);
    expect((await showPayment(opened.payment.paymentId)).event).toEqual({ id: eventId, type: "payment.succeeded" });
    expect(t.stack.receiver.events.has(eventId)).toBe(false);

    t.stack.receiver.setMode("up");
    const redrive = await redriveDlq("events");
    expect(redrive.moved).toBe(1);
    expect(redrive.failed).toEqual([]);
    expect(redrive.notDeleted).toEqual([]);
    expect(JSON.parse(redrive.movedMessages[0]!.body)).toMatchObject({
      id: eventId,
      data: { payment: { paymentId: opened.payment.paymentId } },
    });
    expect(redrive.remaining).toBe(0);
    // Nothing else re-sends an event: the redriven message is what delivers it.
    await delivered(opened.payment.paymentId);
    expect(t.stack.receiver.events.get(eventId)?.deliveries).toBe(1);
    expect((await listDlq("events")).messages).toEqual([]);
  });

  it("redrives a check message to the check worker, which then finds the payment", async () => {
    const opened = (await t.openPayment("ops-check-dlq")) as Opened;
    await pay(opened, { dropFirst: 100 });
    const dlqUrl = t.stack.resources.CheckDeadLetterQueue!.ref;
    await sqs().send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: JSON.stringify({ paymentId: opened.payment.paymentId }) }));

    const listing = await listDlq("check");
    expect(listing.dlqUrl).toBe(dlqUrl);
    expect(listing.messages.map((m) => JSON.parse(m.body))).toEqual([{ paymentId: opened.payment.paymentId }]);
    expect((await getPayment(opened.payment.paymentId))?.status).toBe("OPEN");

    const redrive = await redriveDlq("check", { limit: 5 });
    expect(redrive.moved).toBe(1);
    const paid = await waitFor(
      async () => {
        const payment = await getPayment(opened.payment.paymentId);
        return payment?.status === "PAID" && payment;
      },
      { what: "paid by the redriven check" },
    );
    expect(paid.paidVia).toBe("query");
    expect(await dlqDepth("CheckDeadLetterQueue")).toBe(0);
    expect((await redriveDlq("check")).moved).toBe(0);
  });

  it("rejects an unknown queue and a bad limit", async () => {
    await expect(listDlq("nope" as never)).rejects.toThrow();
    await expect(redriveDlq("events", { limit: 0 })).rejects.toThrow(/--limit/);
  });
});

describe("publish-failures", () => {
  // Issue 17: a stream record publishEvents can never publish (here a fault of this payment's event,
  // for good) is parked on the publish-failures queue after its bounded retries, alone, while the
  // events written after it flow; the ops CLI then replays it from the stream.
  it("parks a record that always fails, delivers every later event, and replays it from the CLI", async () => {
    const poison = await t.createPayment({ userId: "ops-poison" });
    const poisonId = poison.body.paymentId as string;
    armFault("publish.beforeSend", Number.POSITIVE_INFINITY, poisonId);
    try {
      expect((await t.business("shop").cancelPayment(poisonId)).status).toBe(200);
      // Written after it, in the same stream: a payment of each business system.
      const later = await t.createPayment({ userId: "ops-poison" });
      expect((await t.business("shop").cancelPayment(later.body.paymentId)).status).toBe(200);
      const paid = (await t.openPayment("ops-poison", 1000, { system: "membership" })) as Opened;
      await pay(paid);
      await delivered(later.body.paymentId, { kind: "canceled" });
      await delivered(paid.payment.paymentId, { system: "membership" });

      const listing = await waitFor(
        async () => {
          const found = await listPublishFailures();
          return found.failures.length > 0 && found;
        },
        { what: "the poison record parked" },
      );
      expect(listing.queueUrl).toBe(t.stack.resources.PublishFailuresQueue!.ref);
      expect(listing.failures).toHaveLength(1);
      const [failure] = listing.failures;
      expect(failure!.condition).toBe("RetryAttemptsExhausted");
      expect(failure!.batch).toMatchObject({ batchSize: 1, streamArn: t.stack.resources.OrdersTable!.attributes.StreamArn });
      expect(failure!.batch!.startSequenceNumber).toBe(failure!.batch!.endSequenceNumber);
      expect(formatPublishFailures(listing)).toContain(failure!.messageId);
      expect(t.stack.receiver.events.has(`evt_${poisonId}_canceled`)).toBe(false);
    } finally {
      disarmFaults();
    }

    const invocation = parseArgs(["publish-failures", "replay", "--limit", "10"]);
    expect(invocation.command).toBe("publish-failures replay");
    const replay = await replayPublishFailures({ limit: invocation.limit! });
    expect(replay.replayed).toMatchObject([
      { deleted: true, events: [{ id: `evt_${poisonId}_canceled`, type: "payment.canceled", businessId: "shop" }] },
    ]);
    expect(formatPublishReplay(replay)).toContain(`evt_${poisonId}_canceled`);
    await delivered(poisonId, { kind: "canceled" });
    expect((await listPublishFailures()).failures).toEqual([]);
  });
});

describe("event replay", () => {
  it("delivers a delivered event again to its own system: the receiver counts one more delivery of the same id", async () => {
    const opened = (await t.openPayment("ops-replay")) as Opened;
    await pay(opened);
    await delivered(opened.payment.paymentId);
    const eventId = `evt_${opened.payment.paymentId}_succeeded`;
    const before = t.stack.receiver.events.get(eventId)!.deliveries;

    const report = await replayEvent(opened.payment.paymentId);
    expect(report).toMatchObject({
      paymentId: opened.payment.paymentId,
      eventId,
      type: "payment.succeeded",
      businessId: "shop",
      outcome: "delivered",
      signatures: 1,
    });
    expect(report.webhookUrl).toBe(`${t.stack.urls.receivers.shop}/events`);
    expect(t.stack.receiver.events.get(eventId)!.deliveries).toBe(before + 1);
    expect(t.stack.receiver.rejected).toBe(0);
    expect(t.stack.receivers.membership!.events.has(eventId)).toBe(false);

    // A receiver that refuses it: an error, and no delivery counted.
    t.stack.receiver.setMode("down");
    await expect(replayEvent(opened.payment.paymentId)).rejects.toThrow(/not delivered: webhook of shop answered 503/);
    expect(t.stack.receiver.events.get(eventId)!.deliveries).toBe(before + 1);
  });

  it("replays a canceled payment's event, and refuses an open one", async () => {
    const opened = (await t.openPayment("ops-replay-cancel", 800, { system: "membership" })) as Opened;
    expect((await t.business("membership").cancelPayment(opened.payment.paymentId)).status).toBe(200);
    await delivered(opened.payment.paymentId, { system: "membership", kind: "canceled" });
    const report = await replayEvent(opened.payment.paymentId);
    expect(report).toMatchObject({
      eventId: `evt_${opened.payment.paymentId}_canceled`,
      type: "payment.canceled",
      businessId: "membership",
    });
    expect(t.stack.receivers.membership!.events.get(report.eventId)!.deliveries).toBe(2);

    const open = (await t.openPayment("ops-replay-open")) as Opened;
    await expect(replayEvent(open.payment.paymentId)).rejects.toThrow(/is OPEN: it has no event to replay/);
    await expect(replayEvent(`pay${"0".repeat(29)}`)).rejects.toThrow(/no payment/);
  });
});

// Only what a shell needs: none of the functions' variables this process has.
const bareEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };

/** The real CLI entry, as an operator runs it. */
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolveRun) => {
    execFile("npx", ["tsx", "ops/cli.ts", ...args], { cwd: projectRoot, env: bareEnv, timeout: 30_000 }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolveRun({ code: exitCode, stdout, stderr });
    });
  });

/** What `npm start` writes to .local/stack.json, for this test's stack. */
const writeStackFile = (dir: string) => {
  const stackFile = join(dir, "stack.json");
  writeFileSync(
    stackFile,
    JSON.stringify({ urls: t.stack.urls, keysDir: t.stack.keysDir, functionEnv: t.stack.functionEnv, resources: t.stack.resources }),
  );
  return stackFile;
};

describe("business try", () => {
  const dir = mkdtempSync(join(tmpdir(), "alipay-pay-ops-try-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const local = () => ({ apiUrl: t.stack.urls.api, region: t.stack.service.region, keysDir: t.stack.keysDir });
  const shopRole = () => t.stack.businessCredentials.shop!.roleArn;
  const shopKeys = () => [t.stack.businessCredentials.shop!.accessKeyId, t.stack.businessCredentials.shop!.secretAccessKey];

  it("authorizes shop: a call signed with its local credentials reaches the business API, and creates nothing", async () => {
    const report = await tryBusiness("shop", local());
    expect(report).toMatchObject({
      outcome: "authorized",
      ok: true,
      summary: "authorized: shop's callers reach the business API",
      call: { method: "GET", path: "/v1/payments?businessOrderId=ops-onboarding-check" },
      signedWith: { source: "local credentials", roleArn: shopRole() },
      response: { status: 404, body: { code: "payment_not_found" } },
      registry: { read: true, registered: true, status: "ACTIVE", callerRegisteredFor: ["shop"] },
      registryCacheSeconds: 1,
    });
    expect(JSON.stringify(report)).not.toContain(shopKeys()[0]);
    expect(JSON.stringify(report)).not.toContain(shopKeys()[1]);
  });

  it("explains a disabled system's 403 (registered, DISABLED, its roles, the cache), through the CLI too; enabled, it passes again", async () => {
    const stackFile = writeStackFile(dir);
    try {
      expect((await setBusinessStatus("shop", "DISABLED")).changed).toBe(true);
      await registryCacheRunsOut();
      const report = await tryBusiness("shop", local());
      expect(report).toMatchObject({
        outcome: "refused",
        ok: false,
        summary: "refused: shop's callers get 403 from the business API",
        response: { status: 403, body: { code: "forbidden" } },
        registry: { read: true, registered: true, status: "DISABLED", principals: [shopRole()] },
      });
      const hints = report.hints.join("\n");
      expect(hints).toContain("shop is registered and DISABLED: its calls are refused until `business enable shop`");
      expect(hints).toContain(`Its registered roles: ${shopRole()}. The caller must assume one of them.`);
      expect(hints).toContain("BUSINESS_CACHE_SECONDS (1 s here)");

      const refused = await cli(["business", "try", "shop", "--stack-file", stackFile]);
      expect(refused.stderr).toBe("");
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^refused: shop's callers get 403 from the business API$/m);
      expect(refused.stdout).toContain("business enable shop");
      for (const key of shopKeys()) expect(refused.stdout).not.toContain(key);
    } finally {
      await setBusinessStatus("shop", "ACTIVE");
      await registryCacheRunsOut();
    }
    const authorized = await cli(["business", "try", "shop", "--stack-file", stackFile, "--json"]);
    expect(authorized.stderr).toBe("");
    expect(authorized.code).toBe(0);
    expect(JSON.parse(authorized.stdout)).toMatchObject({ outcome: "authorized", response: { status: 404 } });
    for (const key of shopKeys()) expect(authorized.stdout).not.toContain(key);
  });

  it("fails clearly for an unknown id, a system without local credentials, a malformed id, and no API URL against AWS", async () => {
    const unknown = await failure(tryBusiness("nosuch", local()));
    expect(code(unknown)).toBe(1);
    expect(unknown?.message).toBe("no business system nosuch: it is not in the registry and has no local credentials");
    expect((unknown as OpsError).hint).toContain("local credentials exist for: shop, membership");

    const role = "arn:aws:iam::123456789012:role/onboarding-caller";
    await addBusiness(
      { businessId: "onboarding", principals: [role], webhookUrl: "https://onboarding.example.com/events" },
      { secrets: files() },
    );
    const noCredentials = await failure(tryBusiness("onboarding", local()));
    expect(code(noCredentials)).toBe(1);
    expect(noCredentials?.message).toBe(
      "onboarding has no local credentials: the local stack signs only as its sample systems (shop, membership)",
    );
    expect((noCredentials as OpsError).hint).toContain(`Its registered callers: ${role}.`);

    expect(code(await failure(tryBusiness("Shop!", local())))).toBe(2);
    expect(code(await failure(Promise.resolve().then(() => tryTarget({ region: "ap-southeast-1" }, { local: false }))))).toBe(2);
    expect(tryTarget({ apiUrl: "https://pay.example.com", region: "eu-west-1" }, { local: false })).toEqual({
      apiUrl: "https://pay.example.com",
      region: "eu-west-1",
    });
    expect(() => parseArgs(["business", "try", "shop", "--limit", "3"])).toThrow("business try takes no --limit");
    expect(parseArgs(["business", "try", "shop", "--api-url", "https://pay.example.com", "--region", "eu-west-1"]).options).toEqual({
      "api-url": ["https://pay.example.com"],
      region: ["eu-west-1"],
    });
  });
});

describe("the CLI entry", () => {
  const dir = mkdtempSync(join(tmpdir(), "alipay-pay-ops-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints help, exits 1 or 2 with a clear message on errors, and works against a stack file", { timeout: 300_000 }, async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of [
      "payment show <paymentId>",
      "payment find --business <businessId> --business-order <businessOrderId>",
      "payment recheck <paymentId>",
      "refund list <paymentId>",
      "refund show <paymentId> <refundId>",
      "refund retry <paymentId> <refundId>",
      "dlq list <check|events>",
      "dlq redrive <check|events>",
      "event replay <paymentId>",
      "business add <businessId> --principal <roleArn>",
      "business list",
      "business show <businessId>",
      "business update <businessId>",
      "business disable <businessId>",
      "business enable <businessId>",
      "business rotate-secret <businessId>",
      "business try <businessId>",
    ]) {
      expect(help.stdout).toContain(command);
    }
    const commandHelp = await cli(["business", "rotate-secret", "--help"]);
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toContain("two v1= signatures");

    const unconfigured = await cli(["payment", "show", `pay${"0".repeat(29)}`]);
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toMatch(/^error: Missing configuration: /);
    const old = await cli(["order", "show", "abc"]);
    expect(old.code).toBe(2);
    expect(old.stderr).toContain('"order show" was replaced by "payment show <paymentId>"');
    expect((await cli(["business", "add", "x1", "--webhook-url", "https://x.example.com"])).stderr).toContain("--principal is required");

    const opened = (await t.openPayment("ops-cli")) as Opened;
    await pay(opened);
    await delivered(opened.payment.paymentId);
    const stackFile = writeStackFile(dir);

    const shown = await cli(["payment", "show", opened.payment.paymentId, "--stack-file", stackFile, "--json"]);
    expect(shown.stderr).toBe("");
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      paymentId: opened.payment.paymentId,
      status: "PAID",
      businessId: "shop",
      buyerId: "2088********9012",
    });
    expect(shown.stdout).not.toContain(buyerId);
    const found = await cli([
      "payment",
      "find",
      "--business",
      "shop",
      "--business-order",
      opened.payment.businessOrderId,
      "--stack-file",
      stackFile,
    ]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`Payment ${opened.payment.paymentId}  PAID`);

    const refunds = await cli(["refund", "list", opened.payment.paymentId, "--stack-file", stackFile]);
    expect(refunds.stderr).toBe("");
    expect(refunds.code).toBe(0);
    expect(refunds.stdout).toContain(`Refunds of payment ${opened.payment.paymentId} (shop, PAID): 0`);
    expect((await cli(["refund", "retry", opened.payment.paymentId, "refdeadbeef", "--stack-file", stackFile])).code).toBe(2);

    const unknown = await cli(["payment", "show", `pay${"0".repeat(29)}`, "--stack-file", stackFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`error: no payment pay${"0".repeat(29)}`);
    expect(unknown.stdout).toBe("");

    // Registering through the CLI: the secret is printed once, and only by this command.
    const added = await cli([
      "business",
      "add",
      "clinic",
      "--principal",
      "arn:aws:iam::123456789012:role/clinic-caller",
      "--webhook-url",
      "https://clinic.example.com/events",
      "--payment-expiry-seconds",
      "900",
      "--stack-file",
      stackFile,
    ]);
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const secret = readFileSync(join(t.stack.keysDir, "webhook-clinic-1.txt"), "utf8");
    expect(added.stdout.split(secret)).toHaveLength(2);
    expect(added.stdout).toContain("Takes effect within 1 s");
    const listed = await cli(["business", "list", "--stack-file", stackFile]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^clinic\s+ACTIVE\s+arn:aws:iam::123456789012:role\/clinic-caller\s+https:\/\/clinic\.example\.com\/events\s+900s/m,
    );
    expect(listed.stdout).not.toContain(secret);
    const badArn = await cli([
      "business",
      "add",
      "clinic2",
      "--principal",
      "clinic-caller",
      "--webhook-url",
      "https://clinic.example.com/events",
      "--stack-file",
      stackFile,
    ]);
    expect(badArn.code).toBe(2);
    expect(badArn.stderr).toContain("is not an IAM role or user ARN");
    const disabled = await cli(["business", "disable", "clinic", "--stack-file", stackFile]);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain("clinic is now DISABLED");
    expect(disabled.stdout).toContain("Takes effect within 1 s");
  });
});

describe("RUNBOOK.md", () => {
  const runbook = readFileSync(join(projectRoot, "RUNBOOK.md"), "utf8");

  it("has a section for every alarm's link", () => {
    const alarms = readFileSync(join(projectRoot, "infra", "alarms.yml"), "utf8");
    const anchors = [...alarms.matchAll(/RUNBOOK\.md#([\w-]+)/g)].map((m) => m[1]!);
    expect(anchors.length).toBeGreaterThanOrEqual(20);
    // GitHub's anchor of a heading: lower case, spaces to '-', punctuation dropped.
    const headings = new Set(
      [...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    const missing = anchors.filter((anchor) => !runbook.includes(`<a id="${anchor}"></a>`) && !headings.has(anchor.toLowerCase()));
    expect(missing).toEqual([]);
  });

  it("only shows ops commands that the CLI accepts", () => {
    const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
    const lines = [...`${runbook}\n${readme}`.matchAll(/npm run ops -- ([^`\n]+)/g)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThan(15);
    const refused: string[] = [];
    for (const line of lines) {
      const argv = line
        .replace(/<check\\\|events>/g, "events")
        .replace(/<[^>]+>/g, "p_1")
        .replace(/\s#.*$/, "")
        .replace(/\)$/, "")
        .trim()
        .split(/\s+/);
      try {
        const invocation = parseArgs(argv);
        if (!invocation.help && invocation.command === undefined) refused.push(line);
      } catch (error) {
        refused.push(`${line}  (${(error as Error).message})`);
      }
    }
    expect(refused).toEqual([]);
  });
});
