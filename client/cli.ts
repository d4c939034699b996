// `npm run business -- <command> ...`: the business API from a terminal, signed with SigV4 the way a
// business system's server signs (client/businessClient.ts). See `npm run business -- --help`.
import { randomUUID } from "node:crypto";
import { parseCommandLine, UsageError } from "./args.js";
import { createBusinessClient, isReplay, type BusinessClient, type BusinessResponse, type CreatePaymentInput } from "./businessClient.js";
import { readLocalApi, readLocalCredentials } from "./local.js";

const help = `Usage: npm run business -- <command> [arguments] [options]

Commands:
  create-payment   --business-order-id <id> --amount <fen> --subject <text> --user-id <app user>
                   [--body <text>] [--expires-in-seconds <n>] [--metadata key=value ...]
                   [--idempotency-key <key>]        (default: a new random key, printed)
  get-payment      <paymentId>
  find-payment     <businessOrderId>
  cancel-payment   <paymentId>
  create-refund    <paymentId> --amount <fen> --reason <text> [--idempotency-key <key>]
  get-refund       <paymentId> <refundId>
  list-refunds     <paymentId>                     (oldest first)

Local development (the stack of \`npm start\`, --local implied):
  listen           --forward-to <url>   the system's events, signed exactly as in production, are
                   forwarded to your URL while this runs (its webhook secret is printed once, for
                   your verifier); the system's webhook is restored on exit (Ctrl-C, SIGTERM)
  trigger          <event type>         a real flow on the local stack that produces the event:
                   payment.succeeded (create, order string, pay in the simulator's cashier),
                   payment.canceled, payment.expired (about 2-3 minutes: the shortest expiry is
                   120 s), refund.succeeded, refund.failed (the simulated Alipay refuses it)

Where and as whom:
  --local [--as <system>]   the local stack started by \`npm start\` (.local/stack.json), signing with the
                            sample system's local credentials (.local/keys/business-credentials.json);
                            --as defaults to "shop" (also: "membership")
  --stack-file <path>       another stack file for --local; --keys-dir <dir> another keys dir
  --url <base> --region <r> a deployed API (region default: AWS_REGION), signing with your AWS
                            credentials from the default chain (environment, AWS_PROFILE, SSO, role)

Output:
  --json                    {"status": ..., "body": ...} instead of the status line and the body
  --help                    this text

Amounts are integer fen (1234 = 12.34 yuan). Exit code 0 for 2xx answers, 1 otherwise, 2 for usage errors.
An answer replayed for a repeated Idempotency-Key is shown as a replay (header idempotent-replayed).

Examples:
  npm run business -- --local create-payment --business-order-id order-42 --amount 1234 \\
    --subject "Coffee beans" --user-id alice
  npm run business -- --local --as membership find-payment order-42
  npm run business -- --url https://pay.example.com --region ap-southeast-1 get-payment pay_123
  npm run business -- listen --as shop --forward-to http://localhost:8080/hooks
  npm run business -- trigger payment.succeeded --as shop
`;

const options = {
  local: { type: "boolean" },
  as: { type: "string" },
  "stack-file": { type: "string" },
  "keys-dir": { type: "string" },
  url: { type: "string" },
  region: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "business-order-id": { type: "string" },
  amount: { type: "string" },
  subject: { type: "string" },
  body: { type: "string" },
  "user-id": { type: "string" },
  "expires-in-seconds": { type: "string" },
  metadata: { type: "string", multiple: true },
  "idempotency-key": { type: "string" },
  reason: { type: "string" },
  "forward-to": { type: "string" },
} as const;

/** What each option's value is, for the messages. */
const optionValues: Record<string, string> = {
  amount: "an amount in integer fen greater than 0 (1234 = 12.34 yuan)",
  "expires-in-seconds": "a whole number of seconds (120 to 1296000)",
  metadata: "key=value",
  "forward-to": "the URL your webhook handler listens on, e.g. http://localhost:8080/hooks",
};

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  return parseCommandLine(argv, options, { value: (name) => optionValues[name] ?? "text", unknownHint: " (see --help)" });
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usage((error as Error).message, json);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(help);
    return values.help ? 0 : 2;
  }
  if (command === "listen" || command === "trigger") {
    // Local development tools: they drive the local stack itself (registry, simulator).
    try {
      const { runDevCommand } = await import("../local/devTools.js");
      return await runDevCommand(command, rest, {
        as: values.as ?? "shop",
        ...(values["stack-file"] ? { stackFile: values["stack-file"] } : {}),
        ...(values["forward-to"] !== undefined ? { forwardTo: values["forward-to"] } : {}),
        json,
      });
    } catch (error) {
      if (error instanceof UsageError) return usage(error.message, json);
      console.error(`error: ${(error as Error).message}`);
      return 1;
    }
  }
  try {
    const client = clientFor(values);
    const { response, note } = await run(client, command, rest, values);
    const replayed = isReplay(response);
    if (json) {
      console.log(JSON.stringify({ status: response.status, ...(replayed ? { replayed } : {}), body: response.body, ...note }, null, 2));
    } else {
      if (note) for (const [k, v] of Object.entries(note)) console.error(`${k}: ${v}`);
      console.log(
        replayed
          ? `HTTP ${response.status} (replayed: the answer first given to this Idempotency-Key; nothing new was done)`
          : `HTTP ${response.status}`,
      );
      console.log(typeof response.body === "string" ? response.body : JSON.stringify(response.body, null, 2));
    }
    return response.status >= 200 && response.status < 300 ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message, json);
    const message = (error as Error).message ?? String(error);
    const hint = /ECONNREFUSED|fetch failed/.test(`${message} ${String((error as { cause?: unknown }).cause)}`)
      ? values.local
        ? "Is the local stack running (`npm start`)?"
        : "Check the --url and your network."
      : /Could not load credentials|CredentialsProviderError/.test(`${(error as Error).name} ${message}`)
        ? "Set AWS credentials (AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)."
        : undefined;
    if (json) console.log(JSON.stringify({ error: message, ...(hint ? { hint } : {}) }, null, 2));
    else {
      console.error(`error: ${message}`);
      if (hint) console.error(hint);
    }
    return 1;
  }
}

function clientFor(values: Values): BusinessClient {
  if (values.local) {
    if (values.url) throw new UsageError("--local and --url exclude each other");
    const api = readLocalApi(values["stack-file"]);
    return createBusinessClient({
      baseUrl: api.baseUrl,
      region: values.region ?? api.region,
      credentials: readLocalCredentials(values.as ?? "shop", values["keys-dir"] ?? api.keysDir),
    });
  }
  if (values.as) throw new UsageError("--as needs --local (against AWS you sign as your own AWS identity)");
  if (!values.url) throw new UsageError("say where: --local, or --url <api base URL> --region <region>");
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("--region (or AWS_REGION) is required with --url");
  return createBusinessClient({ baseUrl: values.url, region });
}

async function run(
  client: BusinessClient,
  command: string,
  args: string[],
  values: Values,
): Promise<{ response: BusinessResponse; note?: Record<string, string> }> {
  const one = (what: string) => {
    if (args.length !== 1 || !args[0]) throw new UsageError(`${command} takes one argument: <${what}>`);
    return args[0];
  };
  const required = (name: keyof Values & string) => {
    const value = values[name];
    if (typeof value !== "string" || value === "") throw new UsageError(`${command} needs --${name}`);
    return value;
  };
  const generatedKey = values["idempotency-key"] ? undefined : randomUUID();
  const idempotencyKey = values["idempotency-key"] ?? generatedKey!;
  const note = generatedKey ? { "idempotency-key": generatedKey } : undefined;
  switch (command) {
    case "create-payment": {
      if (args.length) throw new UsageError("create-payment takes options only (see --help)");
      const input: CreatePaymentInput = {
        businessOrderId: required("business-order-id"),
        amount: fen(required("amount")),
        subject: required("subject"),
        userId: required("user-id"),
      };
      if (values.body !== undefined) input.body = values.body;
      if (values["expires-in-seconds"] !== undefined) input.expiresInSeconds = integer("expires-in-seconds", values["expires-in-seconds"]);
      if (values.metadata) input.metadata = metadata(values.metadata);
      return { response: await client.createPayment(input, idempotencyKey), ...(note ? { note } : {}) };
    }
    case "get-payment":
      return { response: await client.getPayment(one("paymentId")) };
    case "find-payment":
      return { response: await client.findPayment(values["business-order-id"] ?? one("businessOrderId")) };
    case "cancel-payment":
      return { response: await client.cancelPayment(one("paymentId")) };
    case "create-refund": {
      const paymentId = one("paymentId");
      const input = { amount: fen(required("amount")), reason: required("reason") };
      return { response: await client.createRefund(paymentId, input, idempotencyKey), ...(note ? { note } : {}) };
    }
    case "get-refund": {
      if (args.length !== 2 || !args[0] || !args[1]) throw new UsageError("get-refund takes two arguments: <paymentId> <refundId>");
      return { response: await client.getRefund(args[0], args[1]) };
    }
    case "list-refunds":
      return { response: await client.listRefunds(one("paymentId")) };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)} (see --help)`);
  }
}

function fen(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--amount is ${optionValues.amount}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function integer(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} is ${optionValues[name] ?? "a whole number"}, got ${JSON.stringify(text)}`);
  return Number(text);
}

function metadata(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata takes key=value, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function usage(message: string, json: boolean): number {
  if (json) console.log(JSON.stringify({ error: message }, null, 2));
  else console.error(`error: ${message}\nSee: npm run business -- --help`);
  return 2;
}

const code = await main(process.argv.slice(2));
// Pooled HTTP connections (fetch) would keep the process alive for a while.
process.exit(code);
