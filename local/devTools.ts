// `npm run business -- listen` and `npm run business -- trigger`: a business-system developer's
// tools against the local stack of `npm start` (its stack file names the URLs and the functions'
// environment). `listen` points a sample system's registered webhook at a forwarder that passes each
// delivery, body and signature untouched, to the developer's URL and answers with its answer (so a
// failing handler is retried as in production); the webhook is restored on exit. `trigger` runs a
// real flow (business API, app API, the simulator's cashier) that makes the stack emit the event.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { dirname, join } from "node:path";
import { UsageError } from "../client/args.js";
import type { BusinessClient, BusinessResponse } from "../client/businessClient.js";
import { createLocalBusinessClient, defaultStackFile } from "../client/local.js";

export interface DevOptions {
  as: string;
  stackFile?: string;
  forwardTo?: string;
  json?: boolean;
  /** Where lines go (default: stdout). */
  print?: (line: string) => void;
}

interface StackFile {
  urls: { api: string; alipay: string };
  keysDir: string;
  functionEnv: Record<string, string>;
}

export const triggerableEvents = ["payment.succeeded", "payment.canceled", "payment.expired", "refund.succeeded", "refund.failed"] as const;
export type TriggerableEvent = (typeof triggerableEvents)[number];

function readStack(path = defaultStackFile): StackFile {
  if (!existsSync(path)) throw new Error(`no stack file at ${path}: start the local stack with \`npm start\``);
  return JSON.parse(readFileSync(path, "utf8")) as StackFile;
}

export async function runDevCommand(command: "listen" | "trigger", args: string[], options: DevOptions): Promise<number> {
  if (command === "listen") {
    if (args.length) throw new UsageError("listen takes options only: --forward-to <url> [--as <system>]");
    await listen(options);
    return 0;
  }
  const [type, ...extra] = args;
  if (!type || extra.length || !(triggerableEvents as readonly string[]).includes(type)) {
    throw new UsageError(`trigger takes one event type: ${triggerableEvents.join(", ")}`);
  }
  const result = await trigger(type as TriggerableEvent, options);
  const print = options.print ?? console.log;
  print(options.json ? JSON.stringify(result, null, 2) : result.summary);
  return 0;
}

/** The webhook a system had before `listen` re-pointed it: kept in a file, so a listener killed hard is undone by the next. */
const listenStateFile = (stackFile: string, businessId: string) => join(dirname(stackFile), `listen-${businessId}.json`);

export interface Listening {
  /** The forwarder's URL, now the system's registered webhook. */
  url: string;
  secret: string;
  originalWebhookUrl: string;
  /** Puts the original webhook back and closes the forwarder. */
  stop(): Promise<void>;
}

/** Starts forwarding (see the file's comment). The caller stops it; `listen` does on SIGINT/SIGTERM. */
export async function startListening(options: DevOptions): Promise<Listening> {
  const print = options.print ?? console.log;
  const target = parseTarget(options.forwardTo);
  const stackFile = options.stackFile ?? defaultStackFile;
  const stack = readStack(stackFile);
  // The registry is in the stack's DynamoDB Local: lib/ reads where from the functions' environment.
  for (const [name, value] of Object.entries(stack.functionEnv)) process.env[name] = String(value);
  process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
  const { businessSystem, putBusinessSystem } = await import("../lib/business/registry.js");
  const { signatureHeader } = await import("../lib/webhookSignature.js");
  const { registeredWebhookSecretFile } = await import("./businessSystems.js");
  const system = await businessSystem(options.as, { fresh: true });
  if (!system) throw new UsageError(`no business system "${options.as}" on the local stack (shop, membership)`);
  const stateFile = listenStateFile(stackFile, options.as);
  const originalWebhookUrl = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, "utf8")) as { webhookUrl: string }).webhookUrl
    : system.webhookUrl;
  const secret = readFileSync(await registeredWebhookSecretFile(stack.keysDir, options.as), "utf8").trim();

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let label = "a delivery";
    try {
      const event = JSON.parse(body.toString("utf8")) as { id?: string; type?: string };
      label = `${event.type} ${event.id}`;
    } catch {
      // forwarded as it is all the same
    }
    try {
      const answer = await fetch(target, { method: req.method ?? "POST", headers: forwardedHeaders(req.headers), body });
      const text = await answer.text();
      print(`${new Date().toISOString()}  ${label}  -> ${answer.status}`);
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" });
      res.end(text);
    } catch (error) {
      print(
        `${new Date().toISOString()}  ${label}  -> ${target} did not answer (${String((error as Error).cause ?? error)}); it will be retried`,
      );
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("the developer's URL did not answer");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/events`;
  writeFileSync(stateFile, JSON.stringify({ webhookUrl: originalWebhookUrl }));
  await putBusinessSystem({ ...system, webhookUrl: url, updatedAt: Date.now() });
  print(`Forwarding ${options.as}'s events to ${target} (signed as in production, header ${signatureHeader})`);
  print(`${options.as}'s webhook secret (verify with it; shown once): ${secret}`);
  print(`Ctrl-C restores ${options.as}'s webhook ${originalWebhookUrl}`);
  let stopped = false;
  return {
    url,
    secret,
    originalWebhookUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      // The system as it is now (a secret may have been rotated meanwhile): only the webhook changes back.
      const now = await businessSystem(options.as, { fresh: true });
      if (now) await putBusinessSystem({ ...now, webhookUrl: originalWebhookUrl, updatedAt: Date.now() });
      rmSync(stateFile, { force: true });
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      print(`${options.as}'s webhook restored: ${originalWebhookUrl}`);
    },
  };
}

async function listen(options: DevOptions): Promise<void> {
  const listening = await startListening(options);
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      // A second signal while restoring: the state file lets the next listen restore it.
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      void listening.stop().finally(() => resolveStop());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    process.once("SIGHUP", stop);
  });
}

function parseTarget(forwardTo: string | undefined): string {
  if (!forwardTo) throw new UsageError("listen needs --forward-to <url>, e.g. --forward-to http://localhost:8080/hooks");
  let url: URL;
  try {
    url = new URL(forwardTo);
  } catch {
    throw new UsageError(
      `--forward-to is the URL your webhook handler listens on (e.g. http://localhost:8080/hooks), got ${JSON.stringify(forwardTo)}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--forward-to must be an http(s) URL, got ${forwardTo}`);
  return url.toString();
}

/** The delivery's own headers (signature, idempotency key, content type), not the hop's. */
function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const hop = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (hop.has(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export interface Triggered {
  type: TriggerableEvent;
  /** The event's id, as it reaches the webhook. */
  eventId: string;
  paymentId: string;
  refundId?: string;
  summary: string;
}

/** Runs the flow that makes the local stack emit `type`, and waits until the payment or refund is settled accordingly. */
export async function trigger(type: TriggerableEvent, options: DevOptions): Promise<Triggered> {
  const stack = readStack(options.stackFile);
  const client = createLocalBusinessClient(options.as, options.stackFile ? { stackFile: options.stackFile } : {});
  const userId = "trigger-user";
  const orderId = `trigger-${type.replace(".", "-")}-${randomUUID().slice(0, 8)}`;
  const created = expectStatus(
    await client.createPayment(
      {
        businessOrderId: orderId,
        amount: 100,
        subject: `business trigger ${type}`,
        userId,
        ...(type === "payment.expired" ? { expiresInSeconds: 120 } : {}),
      },
      randomUUID(),
    ),
    201,
    "create-payment",
  );
  const paymentId = created.body.paymentId as string;
  const done = (eventId: string, what: string, refundId?: string): Triggered => ({
    type,
    eventId,
    paymentId,
    ...(refundId ? { refundId } : {}),
    summary: `${type}: ${what}; event ${eventId} is on its way to ${options.as}'s webhook`,
  });
  if (type === "payment.canceled") {
    expectStatus(await client.cancelPayment(paymentId), 200, "cancel-payment");
    return done(`evt_${paymentId}_canceled`, `payment ${paymentId} (${orderId}) created and canceled`);
  }
  if (type === "payment.expired") {
    await until(client, paymentId, "EXPIRED", 360_000);
    return done(`evt_${paymentId}_expired`, `payment ${paymentId} (${orderId}) expired unpaid`);
  }
  // Paid by the buyer: the app's order string (its JWT), paid in the simulator's cashier.
  const token = ((await (await fetch(`${stack.urls.api}/_dev/token?sub=${userId}`)).json()) as { token: string }).token;
  const attempt = await fetch(`${stack.urls.api}/v1/app/payments/${paymentId}/order-string`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  if (attempt.status !== 201) throw new Error(`order-string answered ${attempt.status}: ${await attempt.text()}`);
  const { orderString, outTradeNo } = (await attempt.json()) as { orderString: string; outTradeNo: string };
  const sim = async (path: string, body: unknown) => {
    const answer = await fetch(`${stack.urls.alipay}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (answer.status !== 200) throw new Error(`simulator ${path} answered ${answer.status}: ${await answer.text()}`);
  };
  await sim("/sim/pay", { orderString });
  await until(client, paymentId, "PAID", 120_000);
  if (type === "payment.succeeded") return done(`evt_${paymentId}_succeeded`, `payment ${paymentId} (${orderId}) paid`);
  // The simulated Alipay refuses this trade's refunds for good (a final refusal: FAILED).
  if (type === "refund.failed") await sim("/sim/scenario", { outTradeNo, refundRefusal: "ACQ.TRADE_NOT_ALLOW_REFUND" });
  const refund = expectStatus(
    await client.createRefund(paymentId, { amount: 100, reason: `business trigger ${type}` }, randomUUID()),
    201,
    "create-refund",
  );
  const refundId = refund.body.refundId as string;
  const wanted = type === "refund.succeeded" ? "SUCCEEDED" : "FAILED";
  const deadline = Date.now() + 180_000;
  for (;;) {
    const read = await client.getRefund(paymentId, refundId);
    if (read.body?.status === wanted) break;
    if (Date.now() > deadline) throw new Error(`refund ${refundId} is still ${read.body?.status} (the sweep sends refunds once a minute)`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return done(
    `evt_${refundId}_${wanted === "SUCCEEDED" ? "succeeded" : "failed"}`,
    `refund ${refundId} of payment ${paymentId} ${wanted.toLowerCase()}`,
    refundId,
  );
}

function expectStatus(response: BusinessResponse, status: number, what: string): BusinessResponse {
  if (response.status !== status) throw new Error(`${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response;
}

async function until(client: BusinessClient, paymentId: string, status: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const read = await client.getPayment(paymentId);
    if (read.body?.status === status) return;
    if (Date.now() > deadline) throw new Error(`payment ${paymentId} is still ${read.body?.status}, not ${status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
