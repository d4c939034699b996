// Runs one parsed command and says what to print. Imports lib/ (through the command modules), so
// the CLI entry loads it only after configuring the environment.
import type { Invocation } from "./args.js";
import { UsageError } from "./errors.js";
import {
  addBusiness,
  listBusinesses,
  paymentCenterAccount,
  rotateWebhookSecret,
  secretStoreFor,
  setBusinessStatus,
  showBusiness,
  updateBusiness,
} from "./business.js";
import { backfillPaidShards, formatBackfill } from "./backfill.js";
import { tryBusiness, tryTarget } from "./businessTry.js";
import { checkQueueName, listDlq, redriveDlq } from "./dlq.js";
import { replayEvent } from "./events.js";
import { listPublishFailures, replayPublishFailures } from "./publishFailures.js";
import {
  formatAdded,
  formatBusiness,
  formatBusinessList,
  formatListing,
  formatPayment,
  formatPublishFailures,
  formatPublishReplay,
  formatRecheck,
  formatRedrive,
  formatRefund,
  formatRefundList,
  formatReplay,
  formatRetry,
  formatRotated,
  formatStatus,
  formatTry,
  formatUpdated,
} from "./format.js";
import { findPayment, recheckPayment, showPayment } from "./payments.js";
import { formatPreflight, preflight } from "./preflight.js";
import { listRefunds, retryRefund, showRefund } from "./refunds.js";
import { formatOpenDifferences, formatReconciliation } from "./reconcileFormat.js";
import { openDifferences, runReconciliation, showReconciliation } from "./reconcile.js";

export { findPayment, recheckPayment, showPayment } from "./payments.js";
export { listRefunds, retryRefund, showRefund } from "./refunds.js";
export { listDlq, redriveDlq, resolveQueues } from "./dlq.js";
export { replayEvent } from "./events.js";
export { listPublishFailures, replayPublishFailures } from "./publishFailures.js";
export { openDifferences, runReconciliation, showReconciliation } from "./reconcile.js";
export { addBusiness, listBusinesses, rotateWebhookSecret, setBusinessStatus, showBusiness, updateBusiness } from "./business.js";
export { tryBusiness } from "./businessTry.js";
export { backfillPaidShards } from "./backfill.js";

export interface CommandResult {
  data: unknown;
  text: string;
  /** False when the command did part of its work and failed the rest (exit status 1). */
  ok: boolean;
}

export interface CommandContext {
  /** The local stack's keys dir (from its stack file): new webhook secrets are files there, not SSM parameters. */
  keysDir?: string;
  /** The stack file's urls.api: where `business try` calls unless --api-url says. */
  apiUrl?: string;
  /** Where long commands say how far they got (the CLI: stderr). */
  progress?: (line: string) => void;
}

export async function runCommand(invocation: Invocation, context: CommandContext = {}): Promise<CommandResult> {
  const [first, second] = invocation.args;
  const option = (name: keyof Invocation["options"]) => invocation.options[name]?.[0];
  const limit = invocation.limit === undefined ? {} : { limit: invocation.limit };
  const expiry = invocation.paymentExpirySeconds === undefined ? {} : { paymentExpirySeconds: invocation.paymentExpirySeconds };
  switch (invocation.command) {
    case "preflight": {
      const params = Object.fromEntries(
        (invocation.options.param ?? []).map((item) => {
          const at = item.indexOf("=");
          if (at < 1) throw new UsageError(`--param must be name=value, not "${item}"`);
          return [item.slice(0, at), item.slice(at + 1)];
        }),
      );
      const data = await preflight({ stage: option("stage")!, params, ...(option("region") ? { region: option("region")! } : {}) });
      return { data, text: formatPreflight(data), ok: data.findings.length === 0 };
    }
    case "payment show": {
      const data = await showPayment(first!);
      return { data, text: formatPayment(data), ok: true };
    }
    case "payment find": {
      const data = await findPayment(option("business")!, option("business-order")!);
      return { data, text: formatPayment(data), ok: true };
    }
    case "payment recheck": {
      const data = await recheckPayment(first!);
      return { data, text: formatRecheck(data), ok: true };
    }
    case "refund list": {
      const data = await listRefunds(first!);
      return { data, text: formatRefundList(data), ok: true };
    }
    case "refund show": {
      const data = await showRefund(first!, second!);
      return { data, text: formatRefund(data), ok: true };
    }
    case "refund retry": {
      const data = await retryRefund(first!, second!);
      return { data, text: formatRetry(data), ok: true };
    }
    case "event replay": {
      const data = await replayEvent(first!);
      return { data, text: formatReplay(data), ok: true };
    }
    case "reconcile run": {
      const data = await runReconciliation(first!);
      return { data, text: formatReconciliation(data), ok: data.open === 0 };
    }
    case "reconcile show": {
      const data = await showReconciliation(first!);
      return { data, text: formatReconciliation(data), ok: true };
    }
    case "reconcile differences": {
      const data = await openDifferences(limit);
      return { data, text: formatOpenDifferences(data), ok: true };
    }
    case "backfill paid-shards": {
      const progress = context.progress;
      const data = await backfillPaidShards({
        ...(option("start-key") !== undefined ? { startKey: option("start-key")! } : {}),
        ...(invocation.limit !== undefined ? { maxPages: invocation.limit } : {}),
        ...(progress
          ? {
              onPage: (p) =>
                progress(
                  `page ${p.pages}: ${p.scanned} scanned, ${p.updated} updated, ${p.alreadySet} set meanwhile` +
                    (p.nextStartKey ? `; resume with --start-key ${p.nextStartKey}` : "; end of the table"),
                ),
            }
          : {}),
      });
      return { data, text: formatBackfill(data), ok: true };
    }
    case "dlq list": {
      const data = await listDlq(checkQueueName(first), limit);
      return { data, text: formatListing(data), ok: true };
    }
    case "dlq redrive": {
      const data = await redriveDlq(checkQueueName(first), limit);
      return { data, text: formatRedrive(data), ok: data.failed.length === 0 && data.notDeleted.length === 0 };
    }
    case "publish-failures list": {
      const data = await listPublishFailures(limit);
      return { data, text: formatPublishFailures(data), ok: true };
    }
    case "publish-failures replay": {
      const data = await replayPublishFailures(limit);
      return { data, text: formatPublishReplay(data), ok: data.replayed.every((r) => r.deleted) };
    }
    case "business add": {
      const account = option("account");
      const data = await addBusiness(
        {
          businessId: first!,
          principals: invocation.options.principal ?? [],
          webhookUrl: option("webhook-url")!,
          ...expiry,
          ...(account !== undefined ? { account } : {}),
        },
        {
          secrets: await secretStoreFor(context.keysDir),
          ...(account !== undefined ? { center: await paymentCenterAccount(context.keysDir) } : {}),
        },
      );
      return { data, text: formatAdded(data), ok: true };
    }
    case "business list": {
      const data = await listBusinesses();
      return { data, text: formatBusinessList(data), ok: true };
    }
    case "business show": {
      const data = await showBusiness(first!);
      return { data, text: formatBusiness(data), ok: true };
    }
    case "business update": {
      const data = await updateBusiness(first!, {
        ...(option("webhook-url") !== undefined ? { webhookUrl: option("webhook-url")! } : {}),
        addPrincipals: invocation.options["add-principal"] ?? [],
        removePrincipals: invocation.options["remove-principal"] ?? [],
        ...expiry,
      });
      return { data, text: formatUpdated(data), ok: true };
    }
    case "business disable":
    case "business enable": {
      const data = await setBusinessStatus(first!, invocation.command === "business disable" ? "DISABLED" : "ACTIVE");
      return { data, text: formatStatus(data), ok: true };
    }
    case "business rotate-secret": {
      const data = await rotateWebhookSecret(first!, {
        secrets: await secretStoreFor(context.keysDir),
        ...(invocation.overlapHours !== undefined ? { overlapHours: invocation.overlapHours } : {}),
      });
      return { data, text: formatRotated(data), ok: true };
    }
    case "business try": {
      const target = tryTarget(
        {
          ...(option("api-url") !== undefined ? { apiUrl: option("api-url")! } : {}),
          ...(option("region") !== undefined ? { region: option("region")! } : {}),
        },
        {
          local: invocation.local,
          ...(context.apiUrl ? { stackApiUrl: context.apiUrl } : {}),
          ...(context.keysDir ? { keysDir: context.keysDir } : {}),
        },
      );
      const data = await tryBusiness(first!, target);
      return { data, text: formatTry(data), ok: data.ok };
    }
    default:
      throw new Error(`no command to run`);
  }
}
