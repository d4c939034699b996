// Runs one parsed command and says what to print. Imports lib/ (through the command modules), so
// the CLI entry loads it only after configuring the environment.
import type { Invocation } from "./args.js";
import { checkQueueName, listDlq, redriveDlq } from "./dlq.js";
import { replayEvent } from "./events.js";
import { formatListing, formatOrder, formatRecheck, formatRedrive, formatReplay } from "./format.js";
import { recheckOrder, showOrder } from "./orders.js";

export { showOrder, recheckOrder } from "./orders.js";
export { listDlq, redriveDlq, resolveQueues } from "./dlq.js";
export { replayEvent } from "./events.js";

export interface CommandResult {
  data: unknown;
  text: string;
  /** False when the command did part of its work and failed the rest (exit status 1). */
  ok: boolean;
}

export async function runCommand(invocation: Invocation): Promise<CommandResult> {
  const [first] = invocation.args;
  const limit = invocation.limit === undefined ? {} : { limit: invocation.limit };
  switch (invocation.command) {
    case "order show": {
      const data = await showOrder(first!);
      return { data, text: formatOrder(data), ok: true };
    }
    case "order recheck": {
      const data = await recheckOrder(first!);
      return { data, text: formatRecheck(data), ok: true };
    }
    case "dlq list": {
      const data = await listDlq(checkQueueName(first), limit);
      return { data, text: formatListing(data), ok: true };
    }
    case "dlq redrive": {
      const data = await redriveDlq(checkQueueName(first), limit);
      return { data, text: formatRedrive(data), ok: data.failed.length === 0 && data.notDeleted.length === 0 };
    }
    case "event replay": {
      const data = await replayEvent(first!);
      return { data, text: formatReplay(data), ok: true };
    }
    default:
      throw new Error(`no command to run`);
  }
}
