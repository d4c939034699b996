// `npm run ops -- preflight --stage <s>`: checks an AWS account and a stage's parameters before the
// first deploy (and again after it), read-only. Every finding carries the command that fixes it.
//   parameters     every parameter serverless.yml uses has a value, none a placeholder (the same
//                  rule `serverless deploy` enforces: scripts/stageParams.cjs)
//   secrets        the Alipay keys / certificates the stage's references name exist in SSM, parse,
//                  and belong together (lib/alipay/keys.ts: the app key vs the app certificate,
//                  Alipay's key is not the app's own); never printed
//   prefix         the deployment prefix of out_trade_no: set, 1-8 letters or digits
//   notify URL     https, public, not a placeholder
//   concurrency    the account's Lambda concurrency quota covers the stage's reserved concurrency
//                  plus the 100 unreserved AWS keeps (GetAccountSettings)
//   alarm topics   every SNS topic of the stack has a subscription and none is PendingConfirmation
//                  (topics exist after the first deploy: before it this is a note, not a finding)
// The AWS clients take the standard AWS_REGION / AWS_ENDPOINT_URL_* settings.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { DescribeLimitsCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { normaliseAlipayCredentials } from "../lib/alipay/keys.js";
import { projectRoot, readYaml } from "../local/serverlessConfig.js";
import { readCosts, referenceCosts } from "../scripts/capacity.js";
import { defaultQuotas, quotasFor, type TemplateSettings } from "../scripts/capacityModel.js";
import { isPlaceholder, referencedParams, stageParams, stageProblems } from "../scripts/stageParams.cjs";
import { UsageError } from "./errors.js";

const requireModule = createRequire(import.meta.url);

/** AWS keeps this much of an account's concurrency unreserved; reservations may not eat into it. */
export const unreservedMinimum = 100;
/** Service Quotas code of "Concurrent executions" (Lambda). */
const concurrencyQuotaCode = "L-B99A9384";

export interface PreflightFinding {
  check: "parameters" | "secrets" | "notify-url" | "concurrency" | "capacity" | "alarm-topics";
  problem: string;
  fix: string;
}

export interface PreflightReport {
  stage: string;
  region: string;
  /** What was checked and passed, one line each. */
  passed: string[];
  /** What could not be checked yet (e.g. the alarm topics before the first deploy). */
  notes: string[];
  findings: PreflightFinding[];
}

/** What preflight reads of serverless.yml (raw, variables unresolved). */
interface ServiceConfig {
  service: string;
  params?: Record<string, Record<string, unknown>>;
  functions?: Record<string, { reservedConcurrency?: unknown } | null>;
}
type TemplateFile = { Resources?: Record<string, { Type?: string; Properties?: { TopicName?: unknown } } | null> } | null;

export interface PreflightInput {
  stage: string;
  /** `--param` values as for `serverless deploy` ("name=value" already split). */
  params?: Record<string, string>;
  region?: string;
}

export async function preflight(input: PreflightInput): Promise<PreflightReport> {
  const { stage } = input;
  if (!/^[a-zA-Z0-9-]+$/.test(stage)) throw new UsageError(`--stage must be letters, digits and -, not "${stage}"`);
  const region = input.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("no region", "Give --region or set AWS_REGION to the stage's region.");
  const configText = readFileSync(join(projectRoot, "serverless.yml"), "utf8");
  const config = readYaml("serverless.yml") as ServiceConfig;
  const service = String(config.service);
  const report: PreflightReport = { stage, region, passed: [], notes: [], findings: [] };
  const find = (check: PreflightFinding["check"], problem: string, fix: string) => report.findings.push({ check, problem, fix });
  const clientOptions = { region, maxAttempts: 3 };
  const ssm = new SSMClient(clientOptions);
  const values = stageParams(config, stage, input.params ?? {});
  const paramFix = (name: string) =>
    `add --param="${name}=<value>" to the deploy (and to this preflight), or set it under params.${stage} in serverless.yml`;

  // Parameters: the deploy guard's own rule.
  const problems = stageProblems({ serviceDir: projectRoot, configText, config, stage, cli: input.params ?? {} });
  for (const p of problems) {
    find(
      "parameters",
      p.problem === "missing" ? `${p.name} has no value` : `${p.name} is the placeholder "${p.value}" (${p.from})`,
      paramFix(p.name),
    );
  }
  if (problems.length === 0) report.passed.push("parameters: every parameter has a value, none a placeholder");

  /** A parameter's value as osls would give it: ${self:service}, ${sls:stage}, ${env:}, ${ssm:} resolved. */
  const ssmParameter = async (name: string): Promise<string | undefined> => {
    try {
      const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      return answer.Parameter?.Value;
    } catch (error) {
      if ((error as Error).name === "ParameterNotFound") return undefined;
      throw error;
    }
  };
  const resolved = new Map<string, Promise<string | undefined>>();
  const resolve = (name: string): Promise<string | undefined> => {
    if (!resolved.has(name)) resolved.set(name, resolveOnce(name));
    return resolved.get(name)!;
  };
  const resolveOnce = async (name: string): Promise<string | undefined> => {
    const given = values[name];
    if (given === undefined) return undefined;
    let text = stageNames(String(given.value), service, stage).replace(
      /\$\{env:([A-Za-z0-9_]+)(?:\s*,\s*'([^']*)')?\}/g,
      (_, variable: string, fallback?: string) => process.env[variable] ?? fallback ?? "",
    );
    // A value derived by a JS file (scripts/sizing.cjs: the peak's limits), called as osls calls it.
    const derived = /^\$\{file\(([^)]+\.c?js)\):([A-Za-z0-9_]+)\}$/.exec(text.trim());
    if (derived) {
      const exported = (requireModule(join(projectRoot, derived[1]!)) as Record<string, unknown>)[derived[2]!];
      if (typeof exported !== "function") return undefined;
      const value: unknown = await exported({
        resolveVariable: (ref: string) => (ref.startsWith("param:") ? resolve(ref.slice(6)) : undefined),
      });
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    for (const match of text.matchAll(/\$\{ssm:([^}]+)\}/g)) {
      const path = match[1]!.trim();
      const value = await ssmParameter(path);
      if (value === undefined) {
        find(
          "parameters",
          `${name} names the SSM parameter ${path}, which does not exist`,
          `aws ssm put-parameter --region ${region} --type String --name ${path} --value '<${name}>'`,
        );
        return undefined;
      }
      text = text.replace(match[0], value);
    }
    return text;
  };

  // Every value the stage keeps in SSM (\${ssm:/...} in params.<stage>) exists.
  for (const name of referencedParams(projectRoot, configText)) {
    if (String(values[name]?.value ?? "").includes("${ssm:")) await resolve(name);
  }

  // The deployment prefix of every out_trade_no (lib/config.ts deploymentPrefix checks it again at cold start).
  const prefix = problems.some((p) => p.name === "deploymentPrefix") ? undefined : await resolve("deploymentPrefix");
  if (prefix !== undefined) {
    if (/^[A-Za-z0-9]{1,8}$/.test(prefix)) report.passed.push(`deployment prefix: out_trade_no ${prefix}_<paymentId>_<n>`);
    else {
      find(
        "parameters",
        `deploymentPrefix "${prefix}" must be 1-8 letters or digits (it starts every out_trade_no; Alipay allows letters, digits and _)`,
        paramFix("deploymentPrefix").replace("<value>", stage.replace(/[^A-Za-z0-9]/g, "").slice(0, 8) || "<prefix>"),
      );
    }
  }

  await checkSecrets(report, find, resolve, ssmParameter, region);

  // Notify URL.
  // (A missing or placeholder one is a parameters finding already.)
  const notifyUrl = problems.some((p) => p.name === "alipayNotifyUrl") ? undefined : await resolve("alipayNotifyUrl");
  if (notifyUrl !== undefined) {
    const problem = notifyUrlProblem(notifyUrl);
    if (problem)
      find(
        "notify-url",
        `alipayNotifyUrl ${problem}`,
        paramFix("alipayNotifyUrl").replace("<value>", "https://<your API's custom domain>/alipay/notify"),
      );
    else report.passed.push(`notify URL: ${notifyUrl}`);
  }

  const concurrencyLimit = await checkConcurrency(report, find, { config, service, stage, region, resolve });
  await checkCapacity(report, find, { config, region, resolve, concurrencyLimit, failed: new Set(problems.map((p) => p.name)) });
  await checkAlarmTopics(report, find, { configText, service, stage, region });
  return report;
}

/** ${self:service}, ${sls:stage} and ${opt:stage, ...} of a serverless.yml value, as osls resolves them. */
function stageNames(text: string, service: string, stage: string): string {
  return text.replace(/\$\{self:service\}/g, service).replace(/\$\{(sls:stage|opt:stage[^}]*)\}/g, stage);
}

/** Why a notify URL cannot be Alipay's, or undefined. */
export function notifyUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL`;
  }
  if (url.protocol !== "https:") return `is ${url.protocol.replace(":", "")}: Alipay must reach it over https`;
  if (isPlaceholder(text)) return `"${text}" is a placeholder`;
  if (/^(localhost|127\.|10\.|192\.168\.|\[?::1\]?$)/.test(url.hostname)) return `points at ${url.hostname}, which Alipay cannot reach`;
  if (url.search || url.hash) return "has a query or fragment: Alipay posts to the URL as given";
  return undefined;
}

type Find = (check: PreflightFinding["check"], problem: string, fix: string) => void;
type Resolve = (name: string) => Promise<string | undefined>;

/** The Alipay keys and certificates the stage's references name: present, parseable, matching. */
async function checkSecrets(
  report: PreflightReport,
  find: Find,
  resolve: Resolve,
  ssmParameter: (name: string) => Promise<string | undefined>,
  region: string,
): Promise<void> {
  const references: Array<[param: string, file: string]> = [
    ["alipayAppPrivateKey", "app-private-key.pem"],
    ["alipayPublicKey", "alipay-public-key.pem"],
  ];
  const appCertReference = await resolve("alipayAppCert");
  const certificateMode = Boolean(appCertReference);
  if (certificateMode) {
    references.push(
      ["alipayAppCert", "appCertPublicKey.crt"],
      ["alipayPublicCert", "alipayCertPublicKey_RSA2.crt"],
      ["alipayRootCert", "alipayRootCert.crt"],
    );
  }
  const texts: Record<string, string> = {};
  for (const [param, file] of references) {
    const reference = await resolve(param);
    if (!reference) continue;
    if (reference.startsWith("ssm:")) {
      const name = reference.slice(4);
      const value = await ssmParameter(name);
      if (value === undefined) {
        find(
          "secrets",
          `${param}: the SSM parameter ${name} does not exist`,
          `aws ssm put-parameter --region ${region} --type SecureString --name ${name} --value file://${file}`,
        );
      } else texts[param] = value;
    } else if (reference.startsWith("file:")) {
      try {
        texts[param] = readFileSync(reference.slice(5), "utf8");
      } catch {
        find("secrets", `${param}: cannot read the file ${reference.slice(5)}`, `put the ${file} there, or point ${param} at it`);
      }
    } else {
      find(
        "secrets",
        `${param} is neither ssm:/name nor file:path`,
        `set ${param} to ssm:/<service>/<stage>/<name> (serverless.yml params)`,
      );
    }
  }
  const complete = references.every(([param]) => texts[param] !== undefined);
  if (!complete) return;
  try {
    normaliseAlipayCredentials({
      appPrivateKey: texts.alipayAppPrivateKey!,
      alipayPublicKey: texts.alipayPublicKey!,
      ...(certificateMode
        ? {
            certificates: {
              appCert: texts.alipayAppCert!,
              alipayPublicCert: texts.alipayPublicCert!,
              alipayRootCert: texts.alipayRootCert!,
            },
          }
        : {}),
    });
    report.passed.push(`secrets: the Alipay ${certificateMode ? "key and certificates" : "keys"} parse and match`);
  } catch (error) {
    // The parsers' messages name the key and the problem, never the key's text.
    const message = (error as Error).message;
    const variable = /^(ALIPAY_[A-Z_]+)/.exec(message)?.[1];
    const param = variable ? paramOfVariable[variable] : undefined;
    find(
      "secrets",
      message,
      param
        ? `store the right value: aws ssm put-parameter --region ${region} --type SecureString --overwrite --name <${param}'s parameter> --value file://<the right file> (README.md "Deploying", step 1)`
        : `check the Alipay keys against the open platform console (README.md "Deploying", step 1)`,
    );
  }
}

const paramOfVariable: Record<string, string> = {
  ALIPAY_APP_PRIVATE_KEY: "alipayAppPrivateKey",
  ALIPAY_PUBLIC_KEY: "alipayPublicKey",
  ALIPAY_APP_CERT: "alipayAppCert",
  ALIPAY_PUBLIC_CERT: "alipayPublicCert",
  ALIPAY_ROOT_CERT: "alipayRootCert",
};

/** The reserved concurrency the stage asks for fits the account, leaving the 100 AWS requires. */
async function checkConcurrency(
  report: PreflightReport,
  find: Find,
  { config, service, stage, region, resolve }: { config: ServiceConfig; service: string; stage: string; region: string; resolve: Resolve },
): Promise<number> {
  const lambda = new LambdaClient({ region, maxAttempts: 3 });
  const reserving: Array<{ fn: string; reserved: number; now: number }> = [];
  for (const [fn, spec] of Object.entries(config.functions ?? {})) {
    const raw = spec?.reservedConcurrency;
    if (raw === undefined) continue;
    const param = /^\$\{param:([A-Za-z0-9_-]+)\}$/.exec(String(raw))?.[1];
    const reserved = Number(param ? await resolve(param) : raw);
    if (!Number.isSafeInteger(reserved)) continue;
    let now = 0;
    try {
      const answer = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: `${service}-${stage}-${fn}` }));
      now = answer.ReservedConcurrentExecutions ?? 0;
    } catch (error) {
      if ((error as Error).name !== "ResourceNotFoundException") throw error;
    }
    reserving.push({ fn, reserved, now });
  }
  const settings = await lambda.send(new GetAccountSettingsCommand({}));
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? limit;
  // What stays unreserved once the stage's reservations replace what its functions reserve today.
  const wanted = reserving.reduce((sum, r) => sum + r.reserved - r.now, 0);
  const left = unreserved - wanted;
  const what = reserving.map((r) => `${r.fn} ${r.reserved}`).join(", ") || "none";
  if (left >= unreservedMinimum) {
    report.passed.push(`concurrency: limit ${limit}, ${unreserved} unreserved; reserving ${what} leaves ${left} (>= ${unreservedMinimum})`);
    return limit;
  }
  const desired = Math.ceil((limit + unreservedMinimum - left) / 100) * 100;
  find(
    "concurrency",
    `the account's Lambda concurrency limit is ${limit} with ${unreserved} unreserved: reserving ${what} would leave ${left}, and AWS keeps ${unreservedMinimum} unreserved (the deploy would fail)`,
    `aws service-quotas request-service-quota-increase --region ${region} --service-code lambda --quota-code ${concurrencyQuotaCode} --desired-value ${desired}` +
      ` (or a lower peakPaymentsPerSecond, which sizes alipayNotifyReservedConcurrency: scripts/sizing.cjs)`,
  );
  return limit;
}

/**
 * The account quotas the stage's stated peak needs (scripts/capacityModel.ts quotasFor, with the
 * bench's reference costs): Lambda's concurrency and DynamoDB's table-level throughput, read from the
 * account; API Gateway's account throttle has no read API in this CLI's SDKs, so it is named.
 */
async function checkCapacity(
  report: PreflightReport,
  find: Find,
  {
    config,
    region,
    resolve,
    concurrencyLimit,
    failed,
  }: { config: ServiceConfig; region: string; resolve: Resolve; concurrencyLimit: number; failed: Set<string> },
): Promise<void> {
  if (failed.has("peakPaymentsPerSecond") || failed.has("alipayQueryRatePerSecond")) return;
  const number = async (name: string) => Number(await resolve(name));
  const peak = await number("peakPaymentsPerSecond");
  // Warm throughput is no parameter: infra/tables.yml takes it from the sizing itself.
  const { sizing } = requireModule("../scripts/sizing.cjs") as { sizing: (inputs: Record<string, unknown>) => Record<string, unknown> };
  const sized = sizing({ peakPaymentsPerSecond: peak, alipayQueryRatePerSecond: await number("alipayQueryRatePerSecond") });
  const warm = async (name: string, key: "WriteUnitsPerSecond" | "ReadUnitsPerSecond") =>
    Number((sized[name] as Record<string, number>)[key] ?? 0);
  const settings: TemplateSettings = {
    sizedForPeak: peak,
    alipayQueryRatePerSecond: await number("alipayQueryRatePerSecond"),
    notifyRateLimit: await number("notifyRateLimit"),
    notifyReservedConcurrency: await number("alipayNotifyReservedConcurrency"),
    checkMaxConcurrency: await number("checkMaxConcurrency"),
    checkBatchSize: await number("checkBatchSize"),
    deliverMaxConcurrency: await number("deliverMaxConcurrency"),
    deliverBatchSize: Number(
      (config.functions?.deliverEvent as { events?: Array<{ sqs?: { batchSize?: unknown } }> } | undefined)?.events?.[0]?.sqs?.batchSize ??
        10,
    ),
    publishParallelizationFactor: await number("publishParallelizationFactor"),
    sweepShards: await number("sweepShards"),
    eventShards: await number("eventShards"),
    sweepClaimConcurrency: await number("sweepClaimConcurrency"),
    sweepMaxConcurrency: await number("sweepMaxConcurrency"),
    tableWarmWrites: await warm("tableWarmThroughput", "WriteUnitsPerSecond"),
    tableWarmReads: await warm("tableWarmThroughput", "ReadUnitsPerSecond"),
    indexWarmWrites: {
      sweep: await warm("sweepIndexWarmThroughput", "WriteUnitsPerSecond"),
      paidAt: await warm("paidAtIndexWarmThroughput", "WriteUnitsPerSecond"),
      events: await warm("eventsIndexWarmThroughput", "WriteUnitsPerSecond"),
    },
  };
  if (!Object.values(settings).every((v) => typeof v !== "number" || Number.isFinite(v))) {
    report.notes.push("capacity: a sizing parameter is not a number; run `npm run capacity` for the stage");
    return;
  }
  const needed = quotasFor(peak, settings, readCosts(referenceCosts));
  const sizedFor = `sized for ${peak} payments/s`;
  const reservation = report.findings.find((f) => f.check === "concurrency");
  if (concurrencyLimit >= needed.lambdaConcurrency)
    report.passed.push(`capacity: Lambda concurrency ${concurrencyLimit} >= ${needed.lambdaConcurrency} (${sizedFor})`);
  else if (reservation) {
    // One quota request for both: the reservation's floor and what the peak needs.
    reservation.problem += `; the stage's peak (${peak} payments/s) needs ${needed.lambdaConcurrency}`;
    reservation.fix = reservation.fix.replace(
      /--desired-value (\d+)/,
      (_, value: string) => `--desired-value ${Math.max(Number(value), needed.lambdaConcurrency)}`,
    );
  } else
    find(
      "capacity",
      `the stage is ${sizedFor}, which needs a Lambda concurrency limit of ${needed.lambdaConcurrency} (its triggers' and reservations' worst case at 70 %); the account's is ${concurrencyLimit}`,
      `aws service-quotas request-service-quota-increase --region ${region} --service-code lambda --quota-code ${concurrencyQuotaCode} --desired-value ${needed.lambdaConcurrency}`,
    );
  const limits = await new DynamoDBClient({ region, maxAttempts: 3 }).send(new DescribeLimitsCommand({}));
  for (const [what, have, need] of [
    ["write", limits.TableMaxWriteCapacityUnits ?? 0, needed.dynamodbTableWrites],
    ["read", limits.TableMaxReadCapacityUnits ?? 0, needed.dynamodbTableReads],
  ] as const) {
    if (have >= need) report.passed.push(`capacity: DynamoDB table-level ${what} throughput ${have} >= ${need} (${sizedFor})`);
    else
      find(
        "capacity",
        `the stage is ${sizedFor}: its table or an index takes up to ${need} ${what} units a second (warm throughput included); the account's table-level ${what} throughput limit is ${have}`,
        `aws service-quotas list-service-quotas --region ${region} --service-code dynamodb (the "Table-level ${what} throughput limit"), then request-service-quota-increase --desired-value ${need}`,
      );
  }
  if (needed.apiGatewayAccountRps > defaultQuotas.apiGatewayAccountRps)
    report.notes.push(
      `capacity: the stage is ${sizedFor}; API Gateway's account throttle must allow ${needed.apiGatewayAccountRps} requests/s (default ${defaultQuotas.apiGatewayAccountRps}): check with \`aws apigateway get-account --region ${region}\` and ask for it in Service Quotas (API Gateway, "Throttle rate")`,
    );
}

/** Every SNS topic of the stack's resources: confirmed subscriptions only. */
async function checkAlarmTopics(
  report: PreflightReport,
  find: Find,
  { configText, service, stage, region }: { configText: string; service: string; stage: string; region: string },
): Promise<void> {
  const stack = `${service}-${stage}`;
  // Topic resources of the files serverless.yml includes: a TopicName, or CloudFormation's <stack>-<LogicalId>-<suffix>.
  const wanted: Array<{ id: string; matches: (name: string) => boolean }> = [];
  for (const match of configText.matchAll(/\$\{file\(([^)]+)\)\}/g)) {
    const resources = (readYaml(match[1]!.trim()) as TemplateFile)?.Resources ?? {};
    for (const [id, resource] of Object.entries(resources)) {
      if (resource?.Type !== "AWS::SNS::Topic") continue;
      const topicName = resource.Properties?.TopicName;
      const name = typeof topicName === "string" ? stageNames(topicName, service, stage) : undefined;
      wanted.push({ id, matches: name ? (n) => n === name : (n) => n.startsWith(`${stack}-${id}-`) });
    }
  }
  const sns = new SNSClient({ region, maxAttempts: 3 });
  const arns: string[] = [];
  let token: string | undefined;
  do {
    const page = await sns.send(new ListTopicsCommand(token ? { NextToken: token } : {}));
    arns.push(...(page.Topics ?? []).map((t) => t.TopicArn ?? ""));
    token = page.NextToken;
  } while (token);
  for (const topic of wanted) {
    const arn = arns.find((a) => topic.matches(a.slice(a.lastIndexOf(":") + 1)));
    if (!arn) {
      report.notes.push(`alarm topic ${topic.id}: not deployed yet; run preflight again after the first deploy to check its subscriptions`);
      continue;
    }
    const subscriptions = [];
    let next: string | undefined;
    do {
      const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: arn, ...(next ? { NextToken: next } : {}) }));
      subscriptions.push(...(page.Subscriptions ?? []));
      next = page.NextToken;
    } while (next);
    const pending = subscriptions.filter((s) => s.SubscriptionArn === "PendingConfirmation");
    for (const s of pending) {
      find(
        "alarm-topics",
        `${topic.id}: the ${s.Protocol} subscription of ${s.Endpoint} is PendingConfirmation: alarms do not reach it`,
        `open the confirmation link AWS sent to ${s.Endpoint}; to have it sent again: aws sns subscribe --region ${region} --topic-arn ${arn} --protocol ${s.Protocol} --notification-endpoint ${s.Endpoint}`,
      );
    }
    const confirmed = subscriptions.length - pending.length;
    if (subscriptions.length === 0) {
      find(
        "alarm-topics",
        `${topic.id}: no subscription: alarms reach nobody`,
        `aws sns subscribe --region ${region} --topic-arn ${arn} --protocol email --notification-endpoint <on-call address>`,
      );
    } else if (pending.length === 0) report.passed.push(`alarm topic ${topic.id}: ${confirmed} confirmed subscription(s)`);
  }
}

export function formatPreflight(report: PreflightReport): string {
  const lines = [`preflight of stage ${report.stage} (${report.region})`];
  for (const line of report.passed) lines.push(`  ok    ${line}`);
  for (const line of report.notes) lines.push(`  note  ${line}`);
  for (const f of report.findings) lines.push(`  FAIL  ${f.check}: ${f.problem}`, `        fix: ${f.fix}`);
  lines.push(
    report.findings.length === 0
      ? `No findings: deploy with the same parameters (README.md "Deploying").`
      : `${report.findings.length} finding(s): fix them and run preflight again before deploying.`,
  );
  return lines.join("\n");
}
