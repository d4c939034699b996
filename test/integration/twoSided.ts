// Helpers of the two-sided end-to-end tests (payments.test.ts, security.test.ts): what each business
// system's receiver got, hand-signed SigV4 requests (to sign wrongly on purpose), the table's
// payment items, and reading or re-signing an App Pay order string as an attacker would.
import type { KeyObject } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentials } from "../../client/businessClient.js";
import { dynamo } from "../../lib/aws.js";
import type { RefundRecord } from "../../lib/refunds/model.js";
import { getRefund } from "../../lib/refunds/repository.js";
import type { ReceivedEvent } from "../../local/businessReceiver.js";
import { parseOrderString } from "../../simulator/orderString.js";
import { rsa2Sign, signContent } from "../../simulator/signing.js";
import { type ApiResponse, type TestStack, waitFor } from "./harness.js";

export type EventKind = "succeeded" | "canceled" | "expired";

export const eventIdOf = (paymentId: string, kind: EventKind) => `evt_${paymentId}_${kind}`;

/** Every event `system`'s receiver accepted (signature verified), about `paymentId` when given. */
export function eventsAt(t: TestStack, system: string, paymentId?: string): ReceivedEvent[] {
  const receiver = t.stack.receivers[system];
  if (!receiver) throw new Error(`no receiver for ${system}`);
  return [...receiver.events.values()].filter((e) => paymentId === undefined || e.id.includes(paymentId));
}

/** Waits until `system`'s receiver has the event `kind` of `paymentId`. */
export function eventAt(t: TestStack, system: string, paymentId: string, kind: EventKind, timeoutMs = 20_000): Promise<ReceivedEvent> {
  return waitFor(async () => eventsAt(t, system, paymentId).find((e) => e.id === eventIdOf(paymentId, kind)), {
    timeoutMs,
    what: `payment.${kind} of ${paymentId} at ${system}`,
  });
}

/** Waits until the refund has settled (SUCCEEDED or FAILED) and returns it. */
export function refundSettled(paymentId: string, refundId: string, timeoutMs = 30_000): Promise<RefundRecord> {
  return waitFor(
    async () => {
      const refund = await getRefund(paymentId, refundId);
      return refund && refund.status !== "PENDING" && refund;
    },
    { timeoutMs, what: `refund ${refundId} settled` },
  );
}

/** Waits until `system`'s receiver has refund.`kind` of `refundId`. */
export function refundEventAt(
  t: TestStack,
  system: string,
  refundId: string,
  kind: "succeeded" | "failed",
  timeoutMs = 30_000,
): Promise<ReceivedEvent> {
  return waitFor(async () => eventsAt(t, system).find((e) => e.id === `evt_${refundId}_${kind}`), {
    timeoutMs,
    what: `refund.${kind} of ${refundId} at ${system}`,
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SignedRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: string;
  headers?: Record<string, string>;
  credentials: AwsCredentials;
  /** The signer's clock (default: now). */
  signingDate?: Date;
  /** Sent instead of `body`, after signing it. */
  bodySent?: string;
}

/**
 * A request signed by the AWS SDK's own signer as the business client signs it, possibly tampered
 * with after signing; the answer is checked against docs/openapi.json like every other (harness.ts).
 */
export async function sendSigned(t: TestStack, request: SignedRequest): Promise<ApiResponse> {
  const url = new URL(request.path, t.stack.urls.api);
  for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.append(name, value);
  // URLSearchParams writes spaces as "+", which SigV4 would read as a literal plus.
  url.search = url.search.replace(/\+/g, "%20");
  const headers: Record<string, string> = { ...request.headers, host: url.host };
  if (request.body !== undefined) headers["content-type"] ??= "application/json";
  const signer = new SignatureV4({
    service: "execute-api",
    region: t.stack.service.region,
    credentials: request.credentials,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: request.query ?? {},
      headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    request.signingDate ? { signingDate: request.signingDate } : {},
  );
  const { host: _host, ...sendHeaders } = signed.headers;
  const sentBody = request.bodySent ?? request.body;
  const response = await fetch(url, {
    method: request.method,
    headers: sendHeaders,
    ...(sentBody !== undefined ? { body: sentBody } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, headers: response.headers };
}

/** Every item of the table with sort key `sk` (the local table is small). */
export async function itemsWithSk(t: TestStack, sk: string | ((sk: string) => boolean)): Promise<Array<Record<string, any>>> {
  const items: Array<Record<string, any>> = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new ScanCommand({ TableName: t.stack.functionEnv.TABLE_NAME, ExclusiveStartKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  const matches = typeof sk === "string" ? (value: string) => value === sk : sk;
  return items.filter((item) => matches(String(item.sk)));
}

/** The biz_content of an App Pay order string, as Alipay reads it. */
export function bizContentOf(orderString: string): Record<string, string> {
  return JSON.parse(parseOrderString(orderString).biz_content ?? "{}") as Record<string, string>;
}

/**
 * The order string with `changes` made to its biz_content, signed again with `key` (or left with
 * the original signature when no key is given): what an attacker with a modified app would send.
 */
export function tamperOrderString(orderString: string, changes: Record<string, string>, key?: KeyObject): string {
  const params = parseOrderString(orderString);
  params.biz_content = JSON.stringify({ ...bizContentOf(orderString), ...changes });
  if (key) params.sign = rsa2Sign(signContent(params), key);
  return Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join("&");
}
