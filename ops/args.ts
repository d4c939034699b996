// The command line: node:util parseArgs (through client/args.ts, shared with the business CLI), the
// checks every command's arguments get, and the help texts. No lib/ imports here (see cli.ts): what
// needs lib/ to be checked (business ids, payment ids) is checked by the commands before they touch AWS.
import { parseCommandLine } from "../client/args.js";
import { UsageError } from "./errors.js";

/** Options that belong to some commands (the global ones are fields of Invocation). */
const commandOptions = [
  "stage",
  "param",
  "account",
  "principal",
  "webhook-url",
  "payment-expiry-seconds",
  "add-principal",
  "remove-principal",
  "overlap-hours",
  "business",
  "business-order",
  "limit",
  "api-url",
  "region",
  "start-key",
] as const;
export type OptionName = (typeof commandOptions)[number];
export type CommandName = keyof typeof commands;

export interface Invocation {
  command?: CommandName;
  /** The command's positional arguments. */
  args: string[];
  /** The command's own options, as given (repeatable ones in order). */
  options: Partial<Record<OptionName, string[]>>;
  local: boolean;
  stackFile?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
  /** What --help was asked about ("payment", "dlq redrive", ...; empty for the overview). */
  helpTopic: string;
  limit?: number;
  paymentExpirySeconds?: number;
  overlapHours?: number;
}

interface OptionSpec {
  repeatable?: boolean;
  required?: boolean;
  /** Required unless this other option is given. */
  requiredUnless?: OptionName;
}

interface CommandSpec {
  usage: string;
  summary: string;
  arity: number;
  options?: Partial<Record<OptionName, OptionSpec>>;
  help: string;
}

const takeEffect = `Functions keep the registry for BUSINESS_CACHE_SECONDS (60 s on AWS, 1 s locally): the change
takes effect within that time (the output says how long).`;

const exitStatusWrite = `Exit status: 0 done; 1 failed (no such system, a conflicting change, AWS refused); 2 wrong command
line (bad id, ARN, URL or number).`;

export const commands = {
  preflight: {
    usage: 'preflight --stage <stage> [--param "name=value" ...] [--region <region>] [--json]',
    summary: "check an AWS account and a stage's parameters before deploying (read-only)",
    arity: 0,
    options: { stage: { required: true }, param: { repeatable: true }, region: {} },
    help: `Checks what a first deploy of the stage needs, read-only, and prints each finding with the command
that fixes it. Give the same --param values as to \`serverless deploy\` (serverless.yml params of the
stage and the defaults apply as osls applies them; \${ssm:...} values are read from SSM).
  parameters    every parameter serverless.yml uses has a value and none is a placeholder
                (2021000000000000, *.example.com): what \`serverless deploy\` would refuse
  secrets       the Alipay keys (and certificates in certificate mode) the stage names exist in SSM,
                parse, and match: the app certificate is the app private key's, Alipay's public key
                is not the app's own. Never printed.
  prefix        deploymentPrefix (starts every out_trade_no) is 1-8 letters or digits
  notify URL    https, not a placeholder, not a private address
  concurrency   the account's Lambda concurrency quota (GetAccountSettings) covers the reserved
                concurrency of the stage's functions plus the 100 AWS keeps unreserved
  alarm topics  every SNS topic of the stack has subscriptions, none PendingConfirmation (after the
                first deploy; before it, a note)
Region: --region, else AWS_REGION. Needs ssm:GetParameter (with decryption), lambda:GetAccountSettings,
lambda:GetFunctionConcurrency, sns:ListTopics, sns:ListSubscriptionsByTopic.

Exit status: 0 no findings; 1 findings (or AWS could not be asked); 2 wrong command line.`,
  },
  "payment show": {
    usage: "payment show <paymentId> [--json]",
    summary: "the payment, its attempts, history, refunds and any refunds needed",
    arity: 1,
    help: `Shows one payment: status, amount in fen and yuan, business system and business order, the app
user id (the app's account id, the JWT subject; not an Alipay identifier), times (ISO, UTC),
every Alipay attempt (out_trade_no <deploymentPrefix>_<paymentId>_<n>, or <paymentId>_<n> if made
before prefixes; status, trade no, close reason), how it was
paid (notify or query), its event id once settled, whether the sweep will look at it again and
when, its history, its refunds (as \`refund list\` shows them) with the refunded total, and the money
recorded as needing a refund by hand. An out_trade_no is accepted
too (it names its payment). Buyer identifiers are masked; order strings are never shown.
Read-only.

Exit status: 0 shown; 1 no such payment, or the table cannot be read; 2 not a payment id.`,
  },
  "payment find": {
    usage: "payment find --business <businessId> --business-order <businessOrderId> [--json]",
    summary: "the payment of a business order (then as payment show)",
    arity: 0,
    options: { business: { required: true }, "business-order": { required: true } },
    help: `Finds the payment a business system created for one of its orders (the payment id is derived
from the two) and shows it as \`payment show\` does. Read-only.

Exit status: 0 shown; 1 no such payment; 2 a bad business id or an empty business order id.`,
  },
  "payment recheck": {
    usage: "payment recheck <paymentId> [--json]",
    summary: "run the check worker on the payment now (asks Alipay)",
    arity: 1,
    help: `Runs the check worker's logic (lib/payments/check.ts) on the payment now, exactly as a message
from the sweep would: asks Alipay about the pending attempt (alipay.trade.query) and moves it on.
  attempt paid at Alipay                     -> PAID (via query), event published     outcome: paid
  attempt not paid, still payable            -> stays OPEN, next check scheduled      outcome: waiting
  attempt past its time_expire, not paid     -> closed at Alipay first, then CLOSED;  outcome: closed
                                                the payment EXPIRED if past its expiry
  no pending attempt, payment past its expiry -> EXPIRED, event published             outcome: expired
  already PAID / CANCELED / EXPIRED          -> nothing                               outcome: settled
  money the payment cannot take              -> recorded as refund needed             outcome: refund_needed
Needs the Alipay keys (ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY references, read from SSM on AWS).

Exit status: 0 checked; 1 no such payment, or Alipay could not be asked (retry later); 2 not a payment id.`,
  },
  "refund list": {
    usage: "refund list <paymentId> [--json]",
    summary: "every refund of the payment, and what was refunded",
    arity: 1,
    help: `Lists the refunds of one payment, oldest first: refund id, kind (requested: a business system
asked for it over the API; automatic: another trade of the payment, a second one or one paid on a
closed attempt, given back in full, with that trade's number), amount in fen and yuan, reason, status (PENDING, SUCCEEDED, FAILED),
out_request_no (the refund id: fixed when the refund was recorded, so every retry at Alipay is the
same request), when it was asked for, first sent to Alipay, and settled (a FAILED one with Alipay's
sub_code), or when the sweep checks a PENDING one next. Then the totals of the requested refunds:
refunded (SUCCEEDED), pending, left to refund, and a MISMATCH line if the payment's own running
total (the over-refund guard) is not the sum of its SUCCEEDED and PENDING requested refunds;
automatic refunds are summed apart (they never count against what may be refunded). An out_trade_no is accepted for the
payment. No buyer identifiers. Read-only.

Exit status: 0 listed (even if none); 1 no such payment, or the table cannot be read; 2 not a payment id.`,
  },
  "refund show": {
    usage: "refund show <paymentId> <refundId> [--json]",
    summary: "one refund, with its Alipay ids, times and event",
    arity: 2,
    help: `Shows one refund of a payment as \`refund list\` does, with the paid trade it refunds (trade no,
out_trade_no), its event id once settled (evt_<refundId>_<succeeded|failed>), and whether the sweep
will look at it again and when. Read-only.

Exit status: 0 shown; 1 no such payment or refund; 2 not a payment id or not a refund id.`,
  },
  "refund retry": {
    usage: "refund retry <paymentId> <refundId> [--json]",
    summary: "run the refund worker on a PENDING refund now (asks Alipay)",
    arity: 2,
    help: `Runs the refund worker's logic (lib/refunds/check.ts) on one PENDING refund now, exactly as a
message from the sweep would. A refund already sent is asked about first
(alipay.trade.fastpay.refund.query); alipay.trade.refund is sent only under the refund's own
out_request_no, never a new one, so Alipay refunds it at most once however often this runs.
  Alipay refunded it (answer or query)  -> SUCCEEDED, refund.succeeded published       outcome: succeeded
  Alipay refused it (e.g. trade finished) -> FAILED, amount released, refund.failed     outcome: failed
  number held, money not confirmed yet  -> stays PENDING, next check scheduled          outcome: waiting
  settled meanwhile by the worker       -> nothing                                      outcome: settled
A refund that is not PENDING is refused (nothing to retry). Alipay unavailable (timeout, 5xx) is an
error: the refund stays PENDING, marked as sent, and the next try starts with the query.
Needs the Alipay keys (ALIPAY_APP_PRIVATE_KEY, ALIPAY_PUBLIC_KEY references, read from SSM on AWS).

Exit status: 0 checked; 1 no such payment or refund, the refund is not PENDING, or Alipay could not
be asked (retry later); 2 not a payment id or not a refund id.`,
  },
  "reconcile run": {
    usage: "reconcile run <day> [--json]",
    summary: "reconcile a past day against Alipay's bill now (heals what the query path can)",
    arity: 1,
    help: `Reconciles one day (yyyy-MM-dd, Asia/Shanghai) against Alipay's trade bill, exactly as the daily
function does: downloads the bill, matches every payment and refund of the day with ours (trade
number, out_trade_no, out_request_no; amounts in fen), heals what the check worker's own paths can
(a payment Alipay has and we missed is applied by alipay.trade.query: PAID and payment.succeeded,
or recorded for refund; a PENDING refund Alipay made is settled), stores the report (S3) and the
day's summary, and prints counts and amounts per class and each difference with its ids.
Running a day again is safe: what was healed then matches.

Exit status: 0 reconciled, nothing open; 1 reconciled with open differences (listed, see
RUNBOOK.md#reconciliation-differences), the bill is not published yet (T+1 before 09:00 GMT+8), Alipay or AWS unavailable; 2 not a day.`,
  },
  "reconcile show": {
    usage: "reconcile show <day> [--json]",
    summary: "the day's last reconciliation report",
    arity: 1,
    help: `Shows the last reconciliation of a day: the bill's rows, trailer and summary totals, ours, what
matched, per class the count, healed, open and amounts (fen), every difference with its ids and
outcome, and the rows matched with a neighbouring day (timing).

Exit status: 0 shown; 1 the day was not reconciled; 2 not a day.`,
  },
  "reconcile differences": {
    usage: "reconcile differences [--limit N] [--json]",
    summary: "open differences of the last reconciled days",
    arity: 0,
    options: { limit: {} },
    help: `Lists the differences the reconciliations could not heal, newest day first, from the days'
summaries (the last N days reconciled, default 60; up to 100 differences a day, the report has
all). What to do with each class: RUNBOOK.md#reconciliation-differences.

Exit status: 0 listed (also when some are open).`,
  },
  "backfill paid-shards": {
    usage: "backfill paid-shards [--start-key <key>] [--limit N] [--json]",
    summary: "set paidShard on payments paid before the sharded paidAt index",
    arity: 0,
    options: { "start-key": {}, limit: {} },
    help: `The reconciliation's paidAt index is keyed on paidShard (PAID#<n>, spread over SWEEP_SHARDS), which
every PAID write sets. Payments paid before a stack had that index have paidAt but no paidShard: the
index does not hold them, so a reconciliation of their days would not see them. This scans the
table for them and gives each its paidShard as the PAID write would have (the stage's SWEEP_SHARDS:
run it with the stage's own functions' environment): one conditional write per payment, only while
it has paidAt and no paidShard. Nothing else changes (no event, no history entry). Safe to run
again or twice at once (what is done is skipped); a progress line per scan page (stderr) says
where to resume: --start-key <key> starts there, --limit N stops after N pages. Run it once the
index with paidShard is deployed (RUNBOOK.md#upgrading-a-deployed-stack).
Needs dynamodb:Scan and dynamodb:UpdateItem on the table.

Exit status: 0 done (the whole table, or N pages: then it prints the --start-key to go on); 1 the
table could not be read or written (resume from the last progress line); 2 a bad --start-key or limit.`,
  },
  "event replay": {
    usage: "event replay <paymentId> [--json]",
    summary: "deliver the payment's event to its business system's webhook again",
    arity: 1,
    help: `Delivers the settled payment's event (payment.succeeded, payment.canceled or payment.expired; id
evt_<paymentId>_<succeeded|canceled|expired>, same content, freshly signed) to the webhook of the
business system that owns the payment, now, even if it was delivered before: the business system
dedupes by event id. Reads the registry afresh, so a webhook URL just changed is used at once.
During a secret rotation's overlap the event carries both signatures, as every delivery does.
Needs the system's webhook secret (an SSM reference on AWS).

Exit status: 0 delivered; 1 no such payment, the payment is still OPEN, or the webhook refused it.`,
  },
  "dlq list": {
    usage: "dlq list <check|events> [--limit N] [--json]",
    summary: "messages in a dead-letter queue (not removed)",
    arity: 1,
    options: { limit: {} },
    help: `Lists up to N (default 100) messages in the dead-letter queue of the check queue (check) or of
the events queue (events): message id, receive count, when it was first sent, and its body
({"paymentId"} for check; for events the event itself: {"id","type","businessId","createdAt",
"data":{"payment"}}). Messages are received with a short visibility timeout to page through the
queue and made visible again at the end: nothing is removed, but each listing adds one to their
receive count. The DLQ is found from the work queue's RedrivePolicy (or CHECK_DLQ_URL /
EVENTS_DLQ_URL if set).

Exit status: 0 listed (even if empty); 1 the queue cannot be read.`,
  },
  "dlq redrive": {
    usage: "dlq redrive <check|events> [--limit N] [--json]",
    summary: "move messages back to the work queue",
    arity: 1,
    options: { limit: {} },
    help: `Moves up to N (default 100) messages from the dead-letter queue back to its work queue (check:
the check worker asks Alipay again; events: the event is delivered again). Each message is sent to
the work queue first and deleted from the DLQ only after the send succeeded, so nothing is lost;
at worst a message is moved twice, which the workers tolerate. Stops at the first failed send.
Fix the cause first, or the messages come back to the DLQ after their retries.

Exit status: 0 all moved; 1 a send or delete failed (the report says which), or the queue cannot be read.`,
  },
  "publish-failures list": {
    usage: "publish-failures list [--limit N] [--json]",
    summary: "stream records publishEvents gave up on (where in the stream)",
    arity: 0,
    options: { limit: {} },
    help: `Lists up to N (default 100) messages of the publish-failures queue: each is Lambda's on-failure
record of a batch of table stream records whose events publishEvents could not put on the events
queue (after its retries, or an hour after the write): why (RetryAttemptsExhausted,
RecordAgeExceeded), when, and where in the stream (shard, first and last sequence number, the
records' approximate arrival). Listing hides them from other readers for two minutes; nothing is
removed. The queue is the events queue's sibling (or PUBLISH_FAILURES_QUEUE_URL if set).

Exit status: 0 listed (even if empty); 1 the queue cannot be read.`,
  },
  "publish-failures replay": {
    usage: "publish-failures replay [--limit N] [--json]",
    summary: "publish the events of parked stream records, then delete their messages",
    arity: 0,
    options: { limit: {} },
    help: `For up to N (default 100) messages of the publish-failures queue: reads the stream records it names
back from the table's stream (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords; the stream keeps
them 24 hours), rebuilds each record's event from the payment or refund as it is now (the same id
and content as \`event replay\`), puts it on the events queue (deliverEvent delivers it to the
owning system's webhook, with retries; the system dedupes by event id), and deletes the message
only once every event of it is out. A message whose records are past the stream's 24 hours stays
in the queue with the error: find its payments from the table (RUNBOOK.md#publish-failures).
The events are sent from here, not through publishEvents: a fault of publishEvents does not stop
them, a fault of the events queue (or its permissions) does; fix that first.

Exit status: 0 every message replayed; 1 some left in the queue (the report says why).`,
  },
  "business add": {
    usage:
      "business add <businessId> --principal <roleArn> [--principal <roleArn> ...] --webhook-url <url> [--payment-expiry-seconds N] [--json] (or --account <accountId> instead of --principal)",
    summary: "register a business system; prints its webhook secret once",
    arity: 1,
    options: {
      principal: { repeatable: true, requiredUnless: "account" },
      account: {},
      "webhook-url": { required: true },
      "payment-expiry-seconds": {},
    },
    help: `Registers a business system: the IAM roles (or users) whose SigV4-signed calls act for it, the
webhook its events go to, and how long its payments stay payable unless the create request says
(default 1800 s; 120 to 1296000). The id is 2-32 of a-z 0-9 -, starting with a letter. A role may
belong to one system only. Generates its webhook signing secret (32 random bytes, hex) and stores
it before the registry item: on AWS as the SSM SecureString
/alipay-pay/<stage>/business/<businessId>/webhook-secret-1; against a local stack as the file
webhook-<businessId>-1.txt in its keys dir. The registry item is created only if the id is new.

The secret is printed once, here, for the business team (hand it over through your secret channel);
it is never logged and no other command shows it. The webhook URL must be https (http only for a
loopback host, i.e. a local stack).

A business system in another AWS account: --account <its 12-digit account id>. HTTP APIs have no
resource policy, so API Gateway lets in only principals of the payment center's own account: the
system calls through a role here, alipay-pay-<stage>-biz-<businessId>, that its account may assume.
That role is registered as its principal (API Gateway reports its callers as
arn:aws:sts::<our account>:assumed-role/<role>/<session>), and the output prints the two commands
that create it (trust policy: that account; permissions: execute-api:Invoke on the business routes)
and what the business team configures. Against a local stack the role is created in its keys dir.
${takeEffect}

${exitStatusWrite}`,
  },
  "business list": {
    usage: "business list [--json]",
    summary: "registered business systems (never their secrets)",
    arity: 0,
    help: `Lists the registered business systems: id, status (ACTIVE or DISABLED), the principals allowed to
call for it, webhook URL, default payment expiry, and whether a secret rotation's overlap is
active (both secrets still sign). Secrets are never shown, only where they are stored. Read-only.

Exit status: 0 listed; 1 the table cannot be read.`,
  },
  "business show": {
    usage: "business show <businessId> [--json]",
    summary: "one business system (never its secrets)",
    arity: 1,
    help: `Shows one business system as \`business list\` does, with its secret references and times.
Read-only.

Exit status: 0 shown; 1 no such system; 2 not a business id.`,
  },
  "business update": {
    usage:
      "business update <businessId> [--webhook-url <url>] [--add-principal <roleArn> ...] [--remove-principal <roleArn> ...] [--payment-expiry-seconds N] [--json]",
    summary: "change a system's webhook URL, principals or payment expiry",
    arity: 1,
    options: {
      "webhook-url": {},
      "add-principal": { repeatable: true },
      "remove-principal": { repeatable: true },
      "payment-expiry-seconds": {},
    },
    help: `Changes what is given, in one conditional write: it applies only if nobody changed the system
since it was read (else nothing is written: run it again). A system keeps at least one principal
(disable it instead), and a role may belong to one system only: to move a role to another system,
remove it here first. A new expiry applies to payments created afterwards.
${takeEffect}

${exitStatusWrite}`,
  },
  "business disable": {
    usage: "business disable <businessId> [--json]",
    summary: "refuse the system's API calls (403) until enabled",
    arity: 1,
    help: `Disables a business system: its calls to the business API are refused with 403 (create, read,
cancel). Its existing payments are untouched: the app can still pay open ones, and their events are
still delivered to its webhook. Conditional on nobody having changed it meanwhile.
${takeEffect}

${exitStatusWrite}`,
  },
  "business enable": {
    usage: "business enable <businessId> [--json]",
    summary: "accept the system's API calls again",
    arity: 1,
    help: `Enables a disabled business system again. Conditional on nobody having changed it meanwhile.
${takeEffect}

${exitStatusWrite}`,
  },
  "business rotate-secret": {
    usage: "business rotate-secret <businessId> [--overlap-hours H] [--json]",
    summary: "new webhook secret; both sign during the overlap; prints it once",
    arity: 1,
    options: { "overlap-hours": {} },
    help: `Generates the system's next webhook secret (webhook-secret-<n+1>, stored as \`business add\` does)
and makes it the signing secret, keeping the current one as the previous secret for H hours
(default 24; 0 to 720). During that overlap every event carries two v1= signatures, one per
secret, so the business system verifies with either while it deploys the new one. With
--overlap-hours 0 the old secret stops signing at once (a leaked secret).

A rotation during another one's overlap is refused (it would cut the previous secret off early),
except with --overlap-hours 0. The new secret is printed once, here. The old parameter is left in
place; delete it once the overlap is over. Conditional on nobody having changed the system meanwhile.
${takeEffect}

${exitStatusWrite}`,
  },
  "business try": {
    usage: "business try <businessId> [--api-url <url>] [--region <region>] [--json]",
    summary: "sign a harmless API call as the system: is its onboarding done?",
    arity: 1,
    options: { "api-url": {}, region: {} },
    help: `Checks a business system's onboarding end to end: signs GET /v1/payments?businessOrderId=ops-onboarding-check
as the system's caller with the business client (client/businessClient.ts, SigV4 as their server
signs) and explains the answer. Read-only: no such business order exists, nothing is created.
  404 payment_not_found -> authorized: its callers reach the business API              exit 0
  403                   -> refused: whether the registry has the system, whether it is
                           ACTIVE, its registered role ARNs, and what to do             exit 1
  anything else         -> its status and body                                        exit 1

Against AWS: --api-url (the business API's base URL) is required; the region is --region or
AWS_REGION; the call is signed with the credentials of the default provider chain, so assume one of
the system's registered roles first (e.g. AWS_PROFILE=<a profile of that role>). The API does not
say which system a caller is: with the functions' environment exported and an identity that can read
the table, the answer is checked against the registry too; else check with \`business show\`.
With --local (or a local stack's --stack-file): the API is the stack's urls.api and the call is
signed with the system's local credentials (<keysDir>/business-credentials.json: the sample systems
shop and membership only). Credentials are never printed.
Registry changes take BUSINESS_CACHE_SECONDS to apply: a system just added or enabled is refused
until then.

Exit status: 0 authorized; 1 refused, another answer, no local credentials, the API unreachable;
2 a bad business id, URL or region, or no --api-url against AWS.`,
  },
} satisfies Record<string, CommandSpec>;

const groups: Record<string, string> = {
  payment: "Payments: look at one, find one by business order, or run the check worker on it now.",
  refund: "Refunds of a payment: list them, look at one, or run the refund worker on a PENDING one now.",
  dlq: "Dead-letter queues of the check and events work queues.",
  "publish-failures": "Table stream records whose events publishEvents could not publish: list them, replay their events.",
  event: "Payment events for the business systems.",
  backfill: "One-off data migrations of a deployed stack (RUNBOOK.md#upgrading-a-deployed-stack).",
  reconcile: "Reconciliation against Alipay's daily bill: run a day, show its report, list open differences.",
  business:
    "Business systems: register, change, disable and rotate the webhook secret of the systems that create payments, and try their access.",
};

/** Commands of earlier versions, so an operator following an old note is told what replaced them. */
const replaced: Record<string, string> = {
  "order show": "payment show <paymentId>",
  "order recheck": "payment recheck <paymentId>",
};

const globalOptions = `Options:
  --local              use the local stack: load the functions' environment from .local/stack.json
                       (written by \`npm start\`); business secrets go to its keys dir
  --stack-file <path>  load the functions' environment from the "functionEnv" object of a JSON file
                       (another local stack's file, or one saved from AWS: see RUNBOOK.md#tools)
  --json               machine-readable output (JSON on stdout)
  --verbose            keep the functions' structured logs (Powertools) in the output
  -h, --help           help (also after a command: \`payment show --help\`)`;

export function helpText(topic = ""): string {
  const spec = commands[topic as CommandName];
  if (spec) return `Usage: npm run ops -- ${spec.usage}\n\n${spec.help}\n\n${globalOptions}\n`;
  const group = groups[topic];
  const listed = (Object.keys(commands) as CommandName[]).filter((name) => !group || name.startsWith(`${topic} `));
  const short = (name: CommandName) => commands[name].usage.replace(/ \[--json\]/, "").replace(/ \[--principal <roleArn> \.\.\.\]/, "");
  const width = Math.min(44, Math.max(...listed.map((name) => short(name).length)));
  const lines = listed.map((name) => {
    const usage = short(name);
    return usage.length > width
      ? `  ${usage}\n  ${"".padEnd(width)}  ${commands[name].summary}`
      : `  ${usage.padEnd(width)}  ${commands[name].summary}`;
  });
  const intro =
    group ??
    `Operates the Alipay payment center with the functions' own code (lib/), against the local stack
(--local) or against AWS (export the functions' environment and AWS credentials first).
Runbook: RUNBOOK.md.`;
  return `Usage: npm run ops -- [options] <command>\n\n${intro}\n\nCommands:\n${lines.join("\n")}\n\n${globalOptions}\n`;
}

const options = {
  local: { type: "boolean" },
  "stack-file": { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  // Every command option is collected as a list: how often it may be given is the command's to say.
  ...(Object.fromEntries(commandOptions.map((name) => [name, { type: "string", multiple: true }])) as Record<
    OptionName,
    { type: "string"; multiple: true }
  >),
} as const;

export function parseArgs(argv: string[]): Invocation {
  let parsed: ReturnType<typeof parseCommandLine<typeof options>>;
  try {
    parsed = parseCommandLine(argv, options);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals: words } = parsed;
  const empty = Object.entries(values).find(([, value]) => value === "" || (Array.isArray(value) && value.includes("")));
  if (empty) throw new UsageError(`--${empty[0]} needs a value`);
  const { local = false, json = false, verbose = false, help = false, "stack-file": stackFile } = values;
  const invocation: Invocation = {
    args: [],
    options: Object.fromEntries(commandOptions.flatMap((name) => (values[name] ? [[name, values[name]]] : []))),
    local,
    json,
    verbose,
    help,
    helpTopic: "",
    ...(stackFile !== undefined ? { stackFile } : {}),
  };
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
  const spec: CommandSpec | undefined = commands[name as CommandName];
  if (!spec) {
    if (replaced[name])
      throw new UsageError(
        `"${name}" was replaced by "${replaced[name]}"`,
        `Run \`npm run ops -- ${replaced[name]!.split(" ")[0]} --help\`.`,
      );
    if (words[0]! in groups)
      throw new UsageError(`unknown command "${name}"`, `Run \`npm run ops -- ${words[0]} --help\` for its commands.`);
    throw new UsageError(`unknown command "${words.join(" ")}"`);
  }
  invocation.command = name as CommandName;
  invocation.args = words.slice(2);
  const usage = `Usage: npm run ops -- ${spec.usage}`;
  if (invocation.args.length !== spec.arity) {
    throw new UsageError(
      invocation.args.length < spec.arity ? `${name}: missing argument` : `${name}: too many arguments (${invocation.args.join(" ")})`,
      usage,
    );
  }
  const allowed = spec.options ?? {};
  for (const [option, values] of Object.entries(invocation.options) as Array<[OptionName, string[]]>) {
    const rule = allowed[option];
    if (!rule) throw new UsageError(`${name} takes no --${option}`, usage);
    if (!rule.repeatable && values.length > 1) throw new UsageError(`${name}: --${option} given ${values.length} times`, usage);
  }
  for (const [option, rule] of Object.entries(allowed) as Array<[OptionName, OptionSpec]>) {
    if (rule.required && !invocation.options[option]) throw new UsageError(`${name}: --${option} is required`, usage);
    if (rule.requiredUnless && !invocation.options[option] && !invocation.options[rule.requiredUnless]) {
      throw new UsageError(`${name}: --${option} is required (or --${rule.requiredUnless})`, usage);
    }
  }
  const [limit] = invocation.options.limit ?? [];
  if (limit !== undefined) invocation.limit = integerOption("--limit", limit, 1, 10_000);
  const [expiry] = invocation.options["payment-expiry-seconds"] ?? [];
  if (expiry !== undefined) invocation.paymentExpirySeconds = integerOption("--payment-expiry-seconds", expiry, 120, 1_296_000);
  const [overlap] = invocation.options["overlap-hours"] ?? [];
  if (overlap !== undefined) {
    const hours = Number(overlap);
    if (!/^\d+(\.\d+)?$/.test(overlap) || !(hours >= 0 && hours <= 720))
      throw new UsageError(`--overlap-hours must be a number of hours from 0 to 720, not "${overlap}"`);
    invocation.overlapHours = hours;
  }
  return invocation;
}

function integerOption(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}
