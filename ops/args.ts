// The command line: parsing and help texts. No lib/ imports here (see cli.ts).
import { UsageError } from "./errors.js";

export type CommandName = "order show" | "order recheck" | "dlq list" | "dlq redrive" | "event replay";

export interface Invocation {
  command?: CommandName;
  /** The command's positional arguments. */
  args: string[];
  local: boolean;
  stackFile?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
  /** What --help was asked about ("order", "dlq redrive", ...; empty for the overview). */
  helpTopic: string;
  limit?: number;
}

interface CommandSpec {
  usage: string;
  summary: string;
  arity: number;
  takesLimit?: boolean;
  help: string;
}

export const commands: Record<CommandName, CommandSpec> = {
  "order show": {
    usage: "order show <orderId> [--json]",
    summary: "the order, its history and any refunds needed",
    arity: 1,
    help: `Shows one payment order (an Alipay out_trade_no): status, amount in fen and yuan, times
(ISO, UTC), Alipay trade number, how the payment was seen (notify or query), close reason, the paid
event's id and delivery time, whether the sweep will look at it again and when, its history, and
the payments recorded as needing a refund. Buyer identifiers are masked; the order string is never
shown. Read-only.

Exit status: 0 shown; 1 no such order, or the table cannot be read.`,
  },
  "order recheck": {
    usage: "order recheck <orderId> [--json]",
    summary: "run the check worker on the order now (asks Alipay)",
    arity: 1,
    help: `Runs the check worker's logic (lib/orders/check.ts) on the order now, exactly as a message from
the sweep would: asks Alipay (alipay.trade.query) and moves the order on.
  PENDING, paid at Alipay        -> PAID (via query), event published         outcome: paid
  PENDING, not paid, not expired -> stays PENDING, next check scheduled       outcome: waiting
  PENDING, expired, not paid     -> closed at Alipay first, then CLOSED       outcome: closed
  already final                  -> nothing                                   outcome: settled
  a payment the order cannot take -> recorded as refund needed                outcome: refund_needed
Needs the Alipay keys (ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY references, read from SSM on AWS).

Exit status: 0 checked; 1 no such order, or Alipay could not be asked (retry later).`,
  },
  "dlq list": {
    usage: "dlq list <check|events> [--limit N] [--json]",
    summary: "messages in a dead-letter queue (not removed)",
    arity: 1,
    takesLimit: true,
    help: `Lists up to N (default 100) messages in the dead-letter queue of the check queue (check) or of
the events queue (events): message id, receive count, when it was first sent, and its body
({"orderId"} for check, {"eventId","orderId"} for events). Messages are received with a short
visibility timeout to page through the queue and made visible again at the end: nothing is
removed, but each listing adds one to their receive count. The DLQ is found from the work queue's
RedrivePolicy (or CHECK_DLQ_URL / EVENTS_DLQ_URL if set).

Exit status: 0 listed (even if empty); 1 the queue cannot be read.`,
  },
  "dlq redrive": {
    usage: "dlq redrive <check|events> [--limit N] [--json]",
    summary: "move messages back to the work queue",
    arity: 1,
    takesLimit: true,
    help: `Moves up to N (default 100) messages from the dead-letter queue back to its work queue (check:
the check worker asks Alipay again; events: the event is delivered again). Each message is sent to
the work queue first and deleted from the DLQ only after the send succeeded, so nothing is lost;
at worst a message is moved twice, which the workers tolerate. Stops at the first failed send.
Fix the cause first, or the messages come back to the DLQ after their retries.

Exit status: 0 all moved; 1 a send or delete failed (the report says which), or the queue cannot be read.`,
  },
  "event replay": {
    usage: "event replay <orderId> [--json]",
    summary: "deliver the order's paid event to the business webhook again",
    arity: 1,
    help: `Delivers the order's order.paid event (id evt_<orderId>_paid, same content, freshly signed) to the
business webhook now, even if it was delivered before; the business system dedupes by event id.
If it had not been delivered yet, it is recorded as delivered (the order leaves the sweep).
Needs BUSINESS_WEBHOOK_SECRET (an SSM reference on AWS).

Exit status: 0 delivered; 1 no such order, the order is not paid, or the webhook refused it.`,
  },
};

const groups: Record<string, string> = {
  order: "Orders: look at one, or run the check worker on it now.",
  dlq: "Dead-letter queues of the check and events work queues.",
  event: "Paid events for the business system.",
};

const globalOptions = `Options:
  --local              use the local stack: load the functions' environment from .local/stack.json
                       (written by \`npm start\`)
  --stack-file <path>  load the functions' environment from the "functionEnv" object of a JSON file
                       (another local stack's file, or one saved from AWS: see RUNBOOK.md#tools)
  --json               machine-readable output (JSON on stdout)
  --verbose            keep the functions' structured logs (Powertools) in the output
  -h, --help           help (also after a command: \`order show --help\`)`;

export function helpText(topic = ""): string {
  const spec = commands[topic as CommandName];
  if (spec) return `Usage: npm run ops -- ${spec.usage}\n\n${spec.help}\n\n${globalOptions}\n`;
  const group = groups[topic];
  const listed = (Object.keys(commands) as CommandName[]).filter((name) => !group || name.startsWith(`${topic} `));
  const width = Math.max(...listed.map((name) => commands[name].usage.replace(/ \[--json\]/, "").length));
  const lines = listed.map((name) => `  ${commands[name].usage.replace(/ \[--json\]/, "").padEnd(width)}  ${commands[name].summary}`);
  const intro = group ??
    `Operates the Alipay payment backend with the functions' own code (lib/), against the local stack
(--local) or against AWS (export the functions' environment and AWS credentials first).
Runbook: RUNBOOK.md.`;
  return `Usage: npm run ops -- [options] <command>\n\n${intro}\n\nCommands:\n${lines.join("\n")}\n\n${globalOptions}\n`;
}

export function parseArgs(argv: string[]): Invocation {
  const words: string[] = [];
  const invocation: Invocation = { args: [], local: false, json: false, verbose: false, help: false, helpTopic: "" };
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i]!;
    const [flag, inline] = token.startsWith("--") && token.includes("=") ? [token.slice(0, token.indexOf("=")), token.slice(token.indexOf("=") + 1)] : [token, undefined];
    const value = () => {
      const next = inline ?? argv[(i += 1)];
      if (next === undefined || next === "") throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--local":
        invocation.local = true;
        break;
      case "--stack-file":
        invocation.stackFile = value();
        break;
      case "--json":
        invocation.json = true;
        break;
      case "--verbose":
        invocation.verbose = true;
        break;
      case "-h":
      case "--help":
        invocation.help = true;
        break;
      case "--limit": {
        const raw = value();
        const limit = Number(raw);
        if (!/^\d+$/.test(raw) || !Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
          throw new UsageError(`--limit must be an integer from 1 to 10000, not "${raw}"`);
        }
        invocation.limit = limit;
        break;
      }
      default:
        if (token.startsWith("-") && token !== "-") throw new UsageError(`unknown option ${flag}`);
        words.push(token);
    }
  }
  if (words[0] === "help") {
    invocation.help = true;
    words.shift();
  }
  const name = words.slice(0, 2).join(" ");
  if (invocation.help) {
    invocation.helpTopic = name in commands ? name : words[0] && words[0] in groups ? words[0] : "";
    return invocation;
  }
  if (words.length === 0) throw new UsageError("no command given");
  const spec = commands[name as CommandName];
  if (!spec) {
    if (words[0]! in groups) throw new UsageError(`unknown command "${name}"`, `Run \`npm run ops -- ${words[0]} --help\` for its commands.`);
    throw new UsageError(`unknown command "${words.join(" ")}"`);
  }
  invocation.command = name as CommandName;
  invocation.args = words.slice(2);
  if (invocation.args.length !== spec.arity) {
    throw new UsageError(
      invocation.args.length < spec.arity ? `${name}: missing argument` : `${name}: too many arguments (${invocation.args.join(" ")})`,
      `Usage: npm run ops -- ${spec.usage}`,
    );
  }
  if (invocation.limit !== undefined && !spec.takesLimit) throw new UsageError(`${name} takes no --limit`);
  return invocation;
}
