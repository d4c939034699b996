// `npm run package` builds the deployable CloudFormation template offline; this reads it back and
// checks what operations and security rely on: one least-privilege role per function (its exact
// grants, derived from the code it runs), who may call which route (business systems by IAM, the
// app by JWT and never with an amount, Alipay publicly), dead-letter queues and their alarms, an
// alarm and a RUNBOOK section for every failure mode, metric names the code really emits.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { mismatchReasons, unverifiedReasons } from "../../lib/payments/notify.js";
import { sweepPeriodMs } from "../../lib/payments/sweep.js";
import { backoffSeconds, retryWindowSeconds } from "../../lib/queue.js";
import { projectRoot, readYaml } from "../../local/serverlessConfig.js";
import { paramOptions } from "./stageParams.js";

type Json = Record<string, any>;
type Resource = { Type: string; Properties: Json; DependsOn?: string[] };
let resources: Record<string, Resource> = {};
let conditions: Json = {};
const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const refersTo = (value: unknown, id: string) => JSON.stringify(value).includes(`"${id}"`);
const readText = (path: string) => readFileSync(join(projectRoot, path), "utf8");

// `npm run package` packages the dev stage (given every parameter it has no default for).
const prefix = "alipay-pay-dev";

const functionNames = [
  "createPayment",
  "getPayment",
  "cancelPayment",
  "createRefund",
  "getRefund",
  "getEvents",
  "redeliverEvent",
  "getOrderString",
  "getAppPayment",
  "alipayNotify",
  "sweep",
  "sweepShard",
  "checkPayment",
  "publishEvents",
  "deliverEvent",
  "reconcile",
];
const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}`;

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "package", "--", ...paramOptions()], { cwd: projectRoot, stdio: "pipe", timeout: 180_000 });
  const template = JSON.parse(readText(join(".serverless", "cloudformation-template-update-stack.json")));
  resources = template.Resources;
  conditions = template.Conditions ?? {};
});

/** A template condition's value (the literal Fn::Equals / Fn::Not the templates use). */
function conditionHolds(condition: Json, all: Json = conditions): boolean {
  if (condition["Fn::Not"]) return !conditionHolds(condition["Fn::Not"][0], all);
  if (condition["Fn::Equals"]) {
    const [a, b] = condition["Fn::Equals"] as unknown[];
    if (typeof a !== "string" || typeof b !== "string") throw new Error(`unexpected condition ${JSON.stringify(condition)}`);
    return a === b;
  }
  if (condition.Condition) return conditionHolds(all[condition.Condition], all);
  throw new Error(`unexpected condition ${JSON.stringify(condition)}`);
}

/** IAM statements as CloudFormation deploys them: an `Fn::If` is its branch, `AWS::NoValue` is none. */
function deployedStatements(statements: Json[], all: Json = conditions): Json[] {
  return statements.flatMap((statement) => {
    const branches = statement["Fn::If"] as [string, Json, Json] | undefined;
    if (!branches) return [statement];
    const chosen = conditionHolds(all[branches[0]], all) ? branches[1] : branches[2];
    return chosen.Ref === "AWS::NoValue" ? [] : [chosen];
  });
}

/** Route key -> how API Gateway authorizes it and the function it invokes. */
function routes(): Record<string, { auth: string; authorizer?: unknown; fn: string }> {
  return Object.fromEntries(
    byType("AWS::ApiGatewayV2::Route").map(([, route]) => {
      const integrationId = (route.Properties.Target["Fn::Join"][1] as unknown[])[1] as { Ref: string };
      const uri = resources[integrationId.Ref]!.Properties.IntegrationUri as { "Fn::GetAtt": [string, string] };
      return [
        route.Properties.RouteKey,
        {
          auth: route.Properties.AuthorizationType ?? "NONE",
          ...(route.Properties.AuthorizerId ? { authorizer: route.Properties.AuthorizerId } : {}),
          fn: uri["Fn::GetAtt"][0],
        },
      ];
    }),
  );
}

/**
 * A role's grants, one line per action: `<action> <resource>[ pk=<value> | pk~<pattern>]`, the
 * resource named as the code knows it (table, table/index/sweep, table stream, a queue's logical
 * id, `ssm:/<parameter>` like the functions' secret references, the log group).
 */
function grantsOf(roleId: string): string[] {
  const policies = resources[roleId]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Json[] } }>;
  return policies
    .flatMap((p) => deployedStatements(p.PolicyDocument.Statement))
    .flatMap((statement) => {
      expect(statement.Effect, roleId).toBe("Allow");
      const actions = [statement.Action].flat() as string[];
      const targets = [statement.Resource].flat().map((resource) => resourceLabel(roleId, resource));
      const condition = conditionLabel(roleId, statement.Condition);
      return actions.flatMap((action) => targets.map((target) => `${action} ${target}${condition}`));
    })
    .sort();
}

function resourceLabel(roleId: string, resource: unknown): string {
  const json = JSON.stringify(resource);
  if (json === '{"Fn::GetAtt":["OrdersTable","Arn"]}') return "table";
  if (json === '{"Fn::GetAtt":["OrdersTable","StreamArn"]}') return "table stream";
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
  if (json === '{"Fn::Sub":"${OrdersTable.Arn}/index/sweep"}') return "table/index/sweep";
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
  if (json === '{"Fn::Sub":"${OrdersTable.Arn}/index/paidAt"}') return "table/index/paidAt";
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
  if (json === '{"Fn::Sub":"${OrdersTable.Arn}/index/refundSucceededAt"}') return "table/index/refundSucceededAt";
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
  if (json === '{"Fn::Sub":"${OrdersTable.Arn}/index/events"}') return "table/index/events";
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
  if (json === '{"Fn::Sub":"${ReconciliationBucket.Arn}/reconciliation/*"}') return "ReconciliationBucket/reconciliation/*";
  const attribute = (resource as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
  if (attribute?.[1] === "Arn") return attribute[0];
  const sub = (resource as { "Fn::Sub"?: string })["Fn::Sub"];
  const parameter = sub && /^arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter(\/.+)$/.exec(sub);
  if (parameter) return `ssm:${parameter[1]}`;
  const logGroup = sub && /^arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(log-group:.+)$/.exec(sub);
  if (logGroup) return logGroup[1]!;
  throw new Error(`${roleId}: unexpected resource ${json}`);
}

function conditionLabel(roleId: string, condition: Json | undefined): string {
  if (!condition) return "";
  const entries = Object.entries(condition) as Array<[string, Json]>;
  const [operator, keys] = entries[0] ?? ["", {}];
  const values = keys["dynamodb:LeadingKeys"] as string[] | undefined;
  if (entries.length !== 1 || Object.keys(keys).length !== 1 || !values)
    throw new Error(`${roleId}: unexpected condition ${JSON.stringify(condition)}`);
  if (operator === "ForAllValues:StringEquals") return ` pk=${values.join("|")}`;
  if (operator === "ForAllValues:StringLike") return ` pk~${values.join("|")}`;
  throw new Error(`${roleId}: unexpected condition operator ${operator}`);
}

/** Anchors a link `RUNBOOK.md#<anchor>` can land on: explicit `<a id>`s and headings (GitHub's slugs). */
function runbookAnchors(): Set<string> {
  const text = readText("RUNBOOK.md");
  const ids = [...text.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!);
  const headings = [...text.matchAll(/^#{1,6} +(.+?) *$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-"),
  );
  return new Set([...ids, ...headings]);
}

/** Custom metric names the code emits: count("Name", ...) and gauge("Name", ...) in lib/ and functions/. */
function emittedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const dir of ["lib", "functions"]) {
    for (const file of readdirSync(join(projectRoot, dir), { recursive: true }) as string[]) {
      if (!file.endsWith(".ts")) continue;
      for (const m of readText(join(dir, file)).matchAll(/\b(?:count|gauge)\(\s*"([A-Za-z]+)"/g)) names.add(m[1]!);
    }
  }
  return names;
}

/** Metrics the template itself makes: CloudWatch Logs metric filters, "<namespace> <name>". */
function metricFilterMetrics(): Set<string> {
  return new Set(
    byType("AWS::Logs::MetricFilter").flatMap(([, f]) =>
      (f.Properties.MetricTransformations as Json[]).map((m) => `${m.MetricNamespace} ${m.MetricName}`),
    ),
  );
}

/** What an alarm watches in a namespace: its metric, or each metric of its metric math or Metrics Insights query, with the dimension names. */
function watchedMetrics(alarm: Resource): Array<{ namespace: string; name: string; dimensions: string[] }> {
  const p = alarm.Properties;
  const names = (dimensions: Json[] | undefined) => (dimensions ?? []).map((d) => d.Name as string).sort();
  if (p.MetricName) return [{ namespace: p.Namespace, name: p.MetricName, dimensions: names(p.Dimensions) }];
  return (p.Metrics as Json[]).flatMap((m) => {
    if (m.MetricStat) {
      const metric = m.MetricStat.Metric;
      return [{ namespace: metric.Namespace, name: metric.MetricName, dimensions: names(metric.Dimensions) }];
    }
    const query = /^SELECT \w+\((\w+)\) FROM SCHEMA\((\w+), ([\w, ]+)\)/.exec(m.Expression);
    if (!query) return [];
    return [{ namespace: query[2]!, name: query[1]!, dimensions: query[3]!.split(/, */).sort() }];
  });
}

/**
 * The dimension names each custom metric is published with, as lib/observability.ts emits them (its
 * embedded-metric-format lines): without a dimension only `service`; with one, also that one.
 */
async function emittedDimensions(plainMetrics: string[]): Promise<Map<string, Set<string>>> {
  process.env.POWERTOOLS_METRICS_DISABLED = "false";
  const { count, gauge, metrics } = await import("../../lib/observability.js");
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    count("EventDeliveryFailures", { name: "businessId", value: "shop" });
    gauge("EventDeliveryFailingSeconds", 301, undefined, { name: "businessId", value: "shop" });
    count("NotificationsRejected", { name: "reason", value: "amount_mismatch" });
    count("MessagesDeadLettered", { name: "queue", value: "check" });
    for (const name of plainMetrics) count(name);
    metrics().publishStoredMetrics();
  } finally {
    write.mockRestore();
  }
  const emitted = new Map<string, Set<string>>();
  for (const line of lines.flatMap((l) => l.split("\n")).filter((l) => l.includes('"_aws"'))) {
    for (const directive of JSON.parse(line)._aws.CloudWatchMetrics as Json[]) {
      for (const metric of directive.Metrics as Json[]) {
        for (const dimensions of directive.Dimensions as string[][]) {
          const key = `${directive.Namespace} ${metric.Name}`;
          emitted.set(key, (emitted.get(key) ?? new Set()).add([...dimensions].sort().join(",")));
        }
      }
    }
  }
  return emitted;
}

/** Whether a schema (following its $refs into the document) has a property `amount` anywhere. */
function mentionsAmount(schema: unknown, document: Json, seen = new Set<string>()): boolean {
  if (Array.isArray(schema)) return schema.some((s) => mentionsAmount(s, document, seen));
  if (!schema || typeof schema !== "object") return false;
  const node = schema as Json;
  if (typeof node.$ref === "string") {
    if (seen.has(node.$ref)) return false;
    seen.add(node.$ref);
    const target = (node.$ref as string)
      .replace(/^#\//, "")
      .split("/")
      .reduce<any>((at, key) => at?.[key], document);
    if (target === undefined) throw new Error(`unresolved ${node.$ref}`);
    if (mentionsAmount(target, document, seen)) return true;
  }
  if (node.properties && typeof node.properties === "object" && "amount" in node.properties) return true;
  return Object.entries(node).some(([key, value]) => key !== "$ref" && mentionsAmount(value, document, seen));
}

describe("CloudFormation template", () => {
  it("has the thirteen functions on nodejs22.x, each with a role of its own", () => {
    const functions = byType("AWS::Lambda::Function");
    expect(functions.map(([id]) => id).sort()).toEqual(functionNames.map((fn) => `${logicalId(fn)}LambdaFunction`).sort());
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime).toBe("nodejs22.x");
      expect(fn.Properties.Role).toEqual({ "Fn::GetAtt": [id.replace("LambdaFunction", "Role"), "Arn"] });
    }
    expect(
      byType("AWS::IAM::Role")
        .map(([id]) => id)
        .sort(),
    ).toEqual(functionNames.map((fn) => `${logicalId(fn)}Role`).sort());
    // Each role writes only its own function's logs.
    for (const fn of functionNames) {
      const logs = grantsOf(`${logicalId(fn)}Role`).filter((grant) => grant.startsWith("logs:"));
      expect(logs, fn).toEqual([
        `logs:CreateLogStream log-group:/aws/lambda/${prefix}-${fn}:*`,
        `logs:PutLogEvents log-group:/aws/lambda/${prefix}-${fn}:*`,
      ]);
    }
  });

  it("lets business systems in by IAM, the app by JWT, and Alipay's notifications publicly", () => {
    const [[authorizerId, authorizer]] = byType("AWS::ApiGatewayV2::Authorizer") as [[string, Resource]];
    expect(byType("AWS::ApiGatewayV2::Authorizer")).toHaveLength(1);
    expect(authorizer.Properties.AuthorizerType).toBe("JWT");
    const jwt = { auth: "JWT", authorizer: { Ref: authorizerId } };
    expect(routes()).toEqual({
      "POST /v1/payments": { auth: "AWS_IAM", fn: "CreatePaymentLambdaFunction" },
      "GET /v1/payments": { auth: "AWS_IAM", fn: "GetPaymentLambdaFunction" },
      "GET /v1/payments/{paymentId}": { auth: "AWS_IAM", fn: "GetPaymentLambdaFunction" },
      "POST /v1/payments/{paymentId}/cancel": { auth: "AWS_IAM", fn: "CancelPaymentLambdaFunction" },
      "POST /v1/payments/{paymentId}/refunds": { auth: "AWS_IAM", fn: "CreateRefundLambdaFunction" },
      "GET /v1/payments/{paymentId}/refunds": { auth: "AWS_IAM", fn: "GetRefundLambdaFunction" },
      "GET /v1/payments/{paymentId}/refunds/{refundId}": { auth: "AWS_IAM", fn: "GetRefundLambdaFunction" },
      "GET /v1/events": { auth: "AWS_IAM", fn: "GetEventsLambdaFunction" },
      "GET /v1/events/{eventId}": { auth: "AWS_IAM", fn: "GetEventsLambdaFunction" },
      "POST /v1/events/{eventId}/redeliver": { auth: "AWS_IAM", fn: "RedeliverEventLambdaFunction" },
      "POST /v1/app/payments/{paymentId}/order-string": { ...jwt, fn: "GetOrderStringLambdaFunction" },
      "GET /v1/app/payments/{paymentId}": { ...jwt, fn: "GetAppPaymentLambdaFunction" },
      "POST /alipay/notify": { auth: "NONE", fn: "AlipayNotifyLambdaFunction" },
    });
  });

  it("documents the same authorization in docs/openapi.json, and no app request carries an amount", () => {
    const document = JSON.parse(readText("docs/openapi.json")) as Json;
    const documented: Record<string, string> = {};
    const operations: Array<[string, Json]> = [];
    for (const [path, methods] of Object.entries(document.paths as Json)) {
      for (const [method, operation] of Object.entries(methods as Json)) {
        const key = `${method.toUpperCase()} ${path}`;
        const schemes = ((operation.security ?? document.security ?? []) as Json[]).flatMap((s) => Object.keys(s));
        documented[key] = schemes.length === 0 ? "NONE" : schemes.map((s) => ({ businessIam: "AWS_IAM", appJwt: "JWT" })[s] ?? s).join(",");
        operations.push([key, operation]);
      }
    }
    expect(documented).toEqual(Object.fromEntries(Object.entries(routes()).map(([key, route]) => [key, route.auth])));

    // The app never sends amounts: business systems set them (server to server), the app only pays.
    const appOperations = operations.filter(([key]) => documented[key] === "JWT");
    expect(appOperations.length).toBeGreaterThan(0);
    for (const [key, operation] of appOperations) {
      expect(mentionsAmount(operation.requestBody, document), `${key} request body`).toBe(false);
      expect(
        ((operation.parameters ?? []) as Json[]).map((p) => p.name),
        `${key} parameters`,
      ).not.toContain("amount");
    }
    // The check itself finds an amount where there is one.
    expect(mentionsAmount(document.paths["/v1/payments"].post.requestBody, document)).toBe(true);
  });

  it("grants each function exactly what its code uses", () => {
    // All functions share the environment: the Alipay keys are these references (ssm:/name).
    const env = resources.CreatePaymentLambdaFunction!.Properties.Environment.Variables as Json;
    expect(env.ALIPAY_APP_PRIVATE_KEY).toBe("ssm:/alipay-pay/dev/alipay-app-private-key");
    expect(env.ALIPAY_PUBLIC_KEY).toBe("ssm:/alipay-pay/dev/alipay-public-key");
    const alipayKeys = [`ssm:GetParameter ${env.ALIPAY_APP_PRIVATE_KEY}`, `ssm:GetParameter ${env.ALIPAY_PUBLIC_KEY}`];
    // lib/business/registry.ts: one Query of the partition "BUSINESS".
    const registry = ["dynamodb:Query table pk=BUSINESS"];
    // lib/payments/repository.ts: payment items and their refund records, pk PAYMENT#<paymentId>.
    const payments = (...actions: string[]) => actions.map((a) => `dynamodb:${a} table pk~PAYMENT#*`);
    const consumes = (queue: string) =>
      ["ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "ReceiveMessage"].map((a) => `sqs:${a} ${queue}`);
    const expected: Record<string, string[]> = {
      // insertPayment: a TransactWriteItems of two Puts (PutItem); rememberAnswer: a Put; reads back by GetItem.
      createPayment: [
        ...registry,
        "dynamodb:GetItem table pk~PAYMENT#*|IDEMPOTENCY#*",
        "dynamodb:PutItem table pk~PAYMENT#*|IDEMPOTENCY#*",
      ],
      getPayment: [...registry, ...payments("GetItem")],
      // retireAttempt (Alipay query, close), settleOpen, markPaid, recordRefundNeeded.
      cancelPayment: [...registry, ...payments("GetItem", "PutItem", "UpdateItem"), ...alipayKeys],
      // insertRefund: one TransactWriteItems (the payment an Update, refund and key answer Puts); reads back by GetItem.
      createRefund: [
        ...registry,
        "dynamodb:GetItem table pk~PAYMENT#*|IDEMPOTENCY#*",
        "dynamodb:PutItem table pk~PAYMENT#*|IDEMPOTENCY#*",
        ...payments("UpdateItem"),
      ],
      // readBusinessPayment, getRefund, listRefunds (a Query of the payment's partition).
      getRefund: [...registry, ...payments("GetItem", "Query")],
      // lib/eventLog.ts: a page of the caller's events (the events index), one stored event (GetItem).
      getEvents: [...registry, "dynamodb:Query table/index/events", "dynamodb:GetItem table pk~EVENT#*"],
      // getStoredEvent, then the events queue.
      redeliverEvent: [...registry, "dynamodb:GetItem table pk~EVENT#*", "sqs:SendMessage EventsQueue"],
      // addAttempt, and retireAttempt for an expiring attempt.
      getOrderString: [...payments("GetItem", "PutItem", "UpdateItem"), ...alipayKeys],
      // the inline query's applyQueriedPayment.
      getAppPayment: [...payments("GetItem", "PutItem", "UpdateItem"), ...alipayKeys],
      alipayNotify: [...payments("GetItem", "PutItem", "UpdateItem"), ...alipayKeys],
      // The fan-out: one message per shard on the sweep queue, nothing else.
      sweep: ["sqs:SendMessage SweepQueue"],
      // One shard: dueSweepItems, claimForCheck, SendMessageBatch; Lambda's poller reads the sweep
      // queue (the handler never changes a message's visibility).
      sweepShard: [
        "dynamodb:Query table/index/sweep",
        ...payments("UpdateItem"),
        "sqs:SendMessage CheckQueue",
        ...["DeleteMessage", "GetQueueAttributes", "ReceiveMessage"].map((a) => `sqs:${a} SweepQueue`),
      ],
      checkPayment: [...payments("GetItem", "PutItem", "UpdateItem"), ...consumes("CheckQueue"), ...alipayKeys],
      // The stream, the event log (a conditional put of EVENT# items), the events queue, the check
      // queue (a new refund's check) and the stream's on-failure destination; reads no item.
      publishEvents: [
        ...["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"].map((a) => `dynamodb:${a} table stream`),
        "dynamodb:PutItem table pk~EVENT#*",
        "sqs:SendMessage EventsQueue",
        "sqs:SendMessage CheckQueue",
        "sqs:SendMessage PublishFailuresQueue",
      ],
      // The registry names each system's secret(s); the ops CLI stores them under business/.
      deliverEvent: [...registry, ...consumes("EventsQueue"), "ssm:GetParameter ssm:/alipay-pay/dev/business/*"],
      // lib/reconciliation: the day's money by the two sparse indexes, point reads and the check
      // worker's heals (payment items and their records), the day's summary, the report in S3.
      reconcile: [
        "dynamodb:Query table/index/paidAt",
        "dynamodb:Query table/index/refundSucceededAt",
        ...payments("GetItem", "PutItem", "UpdateItem"),
        "dynamodb:PutItem table pk=RECONCILIATION",
        "s3:PutObject ReconciliationBucket/reconciliation/*",
        ...alipayKeys,
      ],
    };
    for (const fn of functionNames) {
      const grants = grantsOf(`${logicalId(fn)}Role`).filter((grant) => !grant.startsWith("logs:"));
      expect(grants, fn).toEqual([...expected[fn]!].sort());
    }
  });

  it("grants no table write a function does not make, no wildcard action, no old secret", () => {
    const writes = [
      "PutItem",
      "UpdateItem",
      "DeleteItem",
      "BatchWriteItem",
      "ConditionCheckItem",
      "PartiQLInsert",
      "PartiQLUpdate",
      "PartiQLDelete",
    ];
    const tableWrites = (fn: string) =>
      [
        ...new Set(
          grantsOf(`${logicalId(fn)}Role`)
            .map((grant) => grant.split(" ")[0]!)
            .filter((action) => writes.includes(action.replace("dynamodb:", ""))),
        ),
      ].sort();
    expect(Object.fromEntries(functionNames.map((fn) => [fn, tableWrites(fn)]))).toEqual({
      createPayment: ["dynamodb:PutItem"],
      getPayment: [],
      cancelPayment: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      createRefund: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      getRefund: [],
      getEvents: [],
      redeliverEvent: [],
      getOrderString: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      getAppPayment: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      alipayNotify: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      sweep: [],
      sweepShard: ["dynamodb:UpdateItem"],
      checkPayment: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      publishEvents: ["dynamodb:PutItem"],
      deliverEvent: [],
      reconcile: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
    });
    for (const [id] of byType("AWS::IAM::Role")) {
      const grants = grantsOf(id);
      expect(
        grants.some((grant) => grant.split(" ")[0]!.includes("*")),
        id,
      ).toBe(false);
      // The registry (pk BUSINESS) is written by the ops CLI only.
      expect(
        grants.filter((grant) => grant.includes("BUSINESS") && !grant.startsWith("dynamodb:Query ")),
        id,
      ).toEqual([]);
      expect(JSON.stringify(resources[id]), id).not.toContain("business-webhook-secret");
    }
  });

  it("gives every work queue a dead-letter queue, and every dead-letter queue an alarm", () => {
    const queues = byType("AWS::SQS::Queue");
    const deadLetterIds = queues.filter(([id]) => id.includes("DeadLetter")).map(([id]) => id);
    // Work queues are the ones a function consumes; the sweep queue's messages are worth one minute
    // (dropped when stale, expired after 60 s: "sweeps one shard per invocation" below), no dead letters.
    const consumed = byType("AWS::Lambda::EventSourceMapping").map(([, m]) => JSON.stringify(m.Properties.EventSourceArn));
    expect(consumed.some((arn) => arn.includes('"SweepQueue"'))).toBe(true);
    const workQueues = queues.filter(([id]) => id !== "SweepQueue" && consumed.some((arn) => arn.includes(`"${id}"`)));
    expect(workQueues.map(([id]) => id).sort()).toEqual(["CheckQueue", "EventsQueue"]);
    for (const [id, queue] of workQueues) {
      const target = queue.Properties.RedrivePolicy?.deadLetterTargetArn;
      expect(target, id).toBeDefined();
      expect(
        deadLetterIds.some((dlq) => refersTo(target, dlq)),
        id,
      ).toBe(true);
      expect(Number(queue.Properties.RedrivePolicy.maxReceiveCount)).toBeGreaterThan(1);
    }
    const alarms = byType("AWS::CloudWatch::Alarm");
    const watches = (a: Resource, metricName: string, dimension: string) =>
      [a.Properties, ...((a.Properties.Metrics ?? []) as Json[]).map((m) => m.MetricStat?.Metric ?? {})].some(
        (m: Json) => m.MetricName === metricName && refersTo(m.Dimensions, dimension),
      );
    for (const dlq of deadLetterIds) {
      expect(
        alarms.some(([, a]) => watches(a, "ApproximateNumberOfMessagesVisible", dlq)),
        dlq,
      ).toBe(true);
    }
    // SQS's metrics of an idle dead-letter queue can lag up to 15 minutes: the same alarm watches the
    // worker's own count of a failed last attempt, which needs the queue's maxReceiveCount.
    const environment = (resources.CheckPaymentLambdaFunction!.Properties.Environment as Json).Variables as Json;
    for (const [id, queueName, variable] of [
      ["CheckQueue", "check", "CHECK_MAX_RECEIVE_COUNT"],
      ["EventsQueue", "events", "EVENTS_MAX_RECEIVE_COUNT"],
    ] as const) {
      const queue = resources[id]!;
      expect(String(environment[variable]), variable).toBe(String(queue.Properties.RedrivePolicy.maxReceiveCount));
      const dlqAlarm = alarms.find(([, a]) =>
        watches(a, "ApproximateNumberOfMessagesVisible", `${id.replace("Queue", "")}DeadLetterQueue`),
      );
      expect(dlqAlarm && watches(dlqAlarm[1], "MessagesDeadLettered", queueName), `${id}: MessagesDeadLettered ${queueName}`).toBe(true);
    }
    for (const [id] of workQueues) {
      expect(
        alarms.some(([, a]) => a.Properties.MetricName === "ApproximateAgeOfOldestMessage" && refersTo(a.Properties.Dimensions, id)),
        id,
      ).toBe(true);
    }
  });

  it("routes every alarm to exactly one of two topics, page or ticket, and covers errors and throttles of every function", () => {
    const alarms = byType("AWS::CloudWatch::Alarm");
    expect(
      byType("AWS::SNS::Topic")
        .map(([id]) => id)
        .sort(),
    ).toEqual(["PageTopic", "TicketTopic"]);
    for (const [id, alarm] of alarms) {
      const topics = [...(alarm.Properties.AlarmActions ?? []), ...(alarm.Properties.InsufficientDataActions ?? [])] as Json[];
      expect(topics, id).toHaveLength(1);
      expect([{ Ref: "PageTopic" }, { Ref: "TicketTopic" }], id).toContainEqual(topics[0]);
      // OK goes to the same topic: a pager resolves its incident, a ticket says it cleared.
      expect(alarm.Properties.OKActions, id).toEqual(topics);
    }
    for (const fn of functionNames) {
      for (const [metric, suffix] of [
        ["Errors", "errors"],
        ["Throttles", "throttles"],
      ] as const) {
        const alarm = alarms.find(
          ([, a]) => a.Properties.MetricName === metric && refersTo(a.Properties.Dimensions, `${logicalId(fn)}LambdaFunction`),
        );
        expect(alarm, `${fn} ${metric}`).toBeDefined();
        expect(alarm![1].Properties.AlarmName).toBe(`${prefix}-${fn}-${suffix}`);
      }
    }
    const custom = [
      ...new Set(
        alarms.flatMap(([, a]) =>
          watchedMetrics(a)
            .filter((m) => m.namespace === "AlipayPay")
            .map((m) => m.name),
        ),
      ),
    ].sort();
    expect(custom).toEqual([
      "AlipayCalls",
      "AlipayCallsFailed",
      "BusinessCallsRefused",
      "EventDeliveryFailingSeconds",
      "EventDeliveryFailures",
      "MessagesDeadLettered",
      "NotificationsMismatched",
      "NotificationsUnverified",
      "NotifyRequestsThrottled",
      "OldestDueAgeSeconds",
      "ReconciliationDifferencesOpen",
      "RefundsAwaitingPerson",
      "RefundsNeedPerson",
      "StuckPayments",
      "StuckRefunds",
    ]);
    expect(alarms.some(([, a]) => JSON.stringify(a.Properties.Metrics ?? []).includes('"5xx"'))).toBe(true);
  });

  it("watches AWS metrics only as their services publish them, for resources of this template", () => {
    // What each AWS namespace publishes that the alarms use: the resource type its dimension names.
    const published: Record<string, { type: string; dimension: string; metrics: string[] }> = {
      "AWS/SQS": {
        type: "AWS::SQS::Queue",
        dimension: "QueueName",
        metrics: ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"],
      },
      "AWS/Lambda": { type: "AWS::Lambda::Function", dimension: "FunctionName", metrics: ["Errors", "Throttles", "IteratorAge"] },
      "AWS/DynamoDB": { type: "AWS::DynamoDB::Table", dimension: "TableName", metrics: ["ReadThrottleEvents", "WriteThrottleEvents"] },
      "AWS/ApiGateway": { type: "AWS::ApiGatewayV2::Api", dimension: "ApiId", metrics: ["5xx", "Count"] },
    };
    const streamConsumers = byType("AWS::Lambda::EventSourceMapping")
      .filter(([, m]) => JSON.stringify(m.Properties.EventSourceArn).includes("StreamArn"))
      .map(([, m]) => JSON.stringify(m.Properties.FunctionName));
    let checked = 0;
    for (const [id, a] of byType("AWS::CloudWatch::Alarm")) {
      const p = a.Properties;
      const stats = p.MetricName
        ? [{ Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: p.Dimensions }]
        : (p.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric as Json);
      for (const metric of stats.filter((m) => (m.Namespace as string).startsWith("AWS/"))) {
        const source = published[metric.Namespace as string];
        expect(source, `${id}: ${metric.Namespace}`).toBeDefined();
        expect(source!.metrics, `${id}: ${metric.Namespace} ${metric.MetricName}`).toContain(metric.MetricName);
        const dimensions = Object.fromEntries((metric.Dimensions as Json[]).map((d) => [d.Name, d.Value]));
        const target = dimensions[source!.dimension] as Json;
        const targetId = (target.Ref ?? target["Fn::GetAtt"]?.[0]) as string;
        expect(resources[targetId]?.Type, `${id}: ${source!.dimension} names ${JSON.stringify(target)}`).toBe(source!.type);
        if (metric.MetricName === "IteratorAge") expect(streamConsumers, id).toContain(JSON.stringify({ "Fn::GetAtt": [targetId, "Arn"] }));
        if (dimensions.GlobalSecondaryIndexName !== undefined) {
          const indexes = (resources[targetId]!.Properties.GlobalSecondaryIndexes as Json[]).map((i) => i.IndexName);
          expect(indexes, id).toContain(dimensions.GlobalSecondaryIndexName);
        }
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it("links every alarm to its RUNBOOK.md section, named as the alarm", () => {
    const anchors = runbookAnchors();
    for (const [id, alarm] of byType("AWS::CloudWatch::Alarm")) {
      const link = /See RUNBOOK\.md#([\w-]+)/.exec(alarm.Properties.AlarmDescription ?? "");
      expect(link, `${id} links no RUNBOOK section`).not.toBeNull();
      expect(anchors.has(link![1]!), `${id}: RUNBOOK.md#${link![1]} does not exist`).toBe(true);
      expect(alarm.Properties.AlarmName, id).toBe(`${prefix}-${link![1]}`);
    }
  });

  it("watches only metrics the code emits, on the dashboard as in alarms, and every function there", () => {
    const emitted = emittedMetrics();
    const [[, dashboard]] = byType("AWS::CloudWatch::Dashboard") as [[string, Resource]];
    expect(byType("AWS::CloudWatch::Dashboard")).toHaveLength(1);
    const widgets = JSON.parse(dashboard.Properties.DashboardBody["Fn::Sub"]).widgets as Array<{ properties: { metrics: string[][] } }>;
    const lines = widgets.flatMap((w) => w.properties.metrics);
    const custom = [
      ...lines.filter((line) => line[0] === "AlipayPay").map((line) => line[1]!),
      ...byType("AWS::CloudWatch::Alarm").flatMap(([, a]) =>
        watchedMetrics(a)
          .filter((m) => m.namespace === "AlipayPay")
          .map((m) => m.name),
      ),
    ];
    const filtered = metricFilterMetrics();
    for (const name of custom) {
      if (filtered.has(`AlipayPay ${name}`)) continue;
      expect(emitted, `${name} is not counted by the code`).toContain(name);
    }
    for (const name of ["PaymentsSucceeded", "AttemptsClosed", "StuckPayments", "RefundsNeeded", "BusinessCallsRefused"])
      expect(custom).toContain(name);
    for (const fn of functionNames) {
      for (const metric of ["Errors", "Throttles"]) {
        expect(
          lines.some((line) => line[0] === "AWS/Lambda" && line[1] === metric && line[3] === `\${${logicalId(fn)}LambdaFunction}`),
          `${fn} ${metric}`,
        ).toBe(true);
      }
    }
  });

  it("keeps the table safe: point-in-time recovery, encryption, TTL; runs the sweep every minute", () => {
    const table = resources.OrdersTable!.Properties;
    expect(table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled).toBe(true);
    expect(table.SSESpecification.SSEEnabled).toBe(true);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: "ttl", Enabled: true });
    expect(byType("AWS::Events::Rule")[0]?.[1].Properties.ScheduleExpression).toBe("rate(1 minute)");
    const mappings = byType("AWS::Lambda::EventSourceMapping");
    expect(mappings.every(([, m]) => m.Properties.FunctionResponseTypes?.includes("ReportBatchItemFailures"))).toBe(true);
  });

  it("publishes payment events from the table stream, with retries, a failure destination and its alarms", () => {
    expect(resources.OrdersTable!.Properties.StreamSpecification).toEqual({ StreamViewType: "NEW_AND_OLD_IMAGES" });
    const [, mapping] = byType("AWS::Lambda::EventSourceMapping").find(([id]) => id.startsWith("PublishEvents"))!;
    expect(mapping.Properties.EventSourceArn).toEqual({ "Fn::GetAtt": ["OrdersTable", "StreamArn"] });
    // Issue 17: a record that cannot be published is parked after bounded retries (bisected down
    // to itself first) or an hour, within the stream's 24 h, so the records after it flow.
    expect(mapping.Properties.MaximumRetryAttempts).toBeGreaterThanOrEqual(10);
    expect(mapping.Properties.MaximumRetryAttempts).toBeLessThanOrEqual(1000);
    expect(mapping.Properties.BisectBatchOnFunctionError).toBe(true);
    expect(mapping.Properties.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
    expect(mapping.Properties.MaximumRecordAgeInSeconds).toBeLessThanOrEqual(6 * 3600);
    expect(mapping.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    expect(mapping.Properties.DestinationConfig.OnFailure.Destination).toEqual({ "Fn::GetAtt": ["PublishFailuresQueue", "Arn"] });
    // Lambda sends the failure record with the function's own role.
    const role = resources.PublishEventsLambdaFunction!.Properties.Role;
    const statements = (resources[role["Fn::GetAtt"][0]]!.Properties.Policies as Json[]).flatMap((p) => p.PolicyDocument.Statement);
    expect(statements.some((st) => [st.Action].flat().includes("sqs:SendMessage") && refersTo(st.Resource, "PublishFailuresQueue"))).toBe(
      true,
    );
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[0].Pattern)).toEqual({
      dynamodb: {
        OldImage: { sk: { S: ["PAYMENT"] }, status: { S: ["OPEN"] } },
        NewImage: { status: { S: ["PAID", "CANCELED", "EXPIRED"] } },
      },
    });
    // Refunds leaving PENDING publish refund.succeeded / refund.failed.
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[1].Pattern)).toEqual({
      dynamodb: {
        OldImage: { recordType: { S: ["REFUND_REQUEST"] }, status: { S: ["PENDING"] } },
        NewImage: { status: { S: ["SUCCEEDED", "FAILED"] } },
      },
    });
    // A new PENDING refund is sent to Alipay at once (its check message on the check queue).
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[2].Pattern)).toEqual({
      eventName: ["INSERT"],
      dynamodb: { NewImage: { recordType: { S: ["REFUND_REQUEST"] }, status: { S: ["PENDING"] } } },
    });
    expect(mapping.Properties.FilterCriteria.Filters).toHaveLength(3);
    const alarms = byType("AWS::CloudWatch::Alarm");
    expect(
      alarms.some(
        ([, a]) =>
          a.Properties.MetricName === "ApproximateNumberOfMessagesVisible" && refersTo(a.Properties.Dimensions, "PublishFailuresQueue"),
      ),
    ).toBe(true);
    expect(
      alarms.some(([, a]) => a.Properties.MetricName === "IteratorAge" && refersTo(a.Properties.Dimensions, "PublishEventsLambdaFunction")),
    ).toBe(true);
  });
});

/**
 * The value an alarm's metric math (FILL(x, 0), +, /, MAX([...])) computes from the sums of its
 * metrics for one period: a metric with no data is undefined, as in CloudWatch.
 */
function alarmValue(alarm: Resource, sum: (metric: Json) => number | undefined): number {
  const metrics = alarm.Properties.Metrics as Json[];
  const values = new Map<string, number | undefined>();
  const value = (id: string): number | undefined => {
    if (values.has(id)) return values.get(id);
    const m = metrics.find((candidate) => candidate.Id === id)!;
    let result: number | undefined;
    if (m.MetricStat) result = sum(m.MetricStat.Metric);
    else {
      const js = (m.Expression as string)
        .replace(/FILL\((\w+), 0\)/g, "($1 ?? 0)")
        .replace(/MAX\(\[([^\]]+)\]\)/g, "Math.max($1)")
        .replace(/^IF\((.+?), (.+?), (.+)\)$/, "(($1) ? ($2) : ($3))");
      const ids = metrics.map((other) => other.Id as string).filter((other) => new RegExp(`\\b${other}\\b`).test(js));
      result = new Function(...ids, `return ${js};`)(...ids.map(value)) as number;
      // A metric without data (not FILLed) leaves the expression without a datapoint.
      if (Number.isNaN(result)) result = undefined;
    }
    values.set(id, result);
    return result;
  };
  // No data at all: treated as not breaching (the alarms' TreatMissingData).
  return value((metrics.find((m) => m.ReturnData !== false) as Json).Id) ?? 0;
}

/** Seconds each source's datapoints reach CloudWatch late, from RUNBOOK.md's "Metric delays" table. */
function metricDelays(): Record<string, number> {
  const text = readText("RUNBOOK.md");
  const section = text.slice(text.indexOf("### Metric delays"), text.indexOf("\n## ", text.indexOf("### Metric delays")));
  const rows = [...section.matchAll(/^\| `([^`]+)` \| (\d+) s \|/gm)];
  expect(rows.length, "RUNBOOK.md: Metric delays table").toBeGreaterThan(0);
  return Object.fromEntries(rows.map((m) => [m[1]!, Number(m[2])]));
}

/** RUNBOOK.md's "Time to page" table: alarm name suffix -> severity and seconds. */
function runbookAlarmTable(): Record<string, { severity: string; seconds: number }> {
  const text = readText("RUNBOOK.md");
  const start = text.indexOf("### Time to page");
  const section = text.slice(start, text.indexOf("\n### ", start + 1));
  const table: Record<string, { severity: string; seconds: number }> = {};
  for (const row of section.matchAll(/^\| (\[.+?) \| (page|ticket) \| .+? \| (\d+) s \|$/gm)) {
    for (const link of row[1]!.matchAll(/\[([\w-]+)\]\(#[\w-]+\)/g)) {
      expect(table[link[1]!], `${link[1]} listed twice`).toBeUndefined();
      table[link[1]!] = { severity: row[2]!, seconds: Number(row[3]) };
    }
  }
  return table;
}

/** When a lone event's k-th delivery attempt has failed, in seconds after its first send: every attempt times out (5 s), retries back off as lib/queue.ts. */
function failureTimes(attempts: number): number[] {
  const base = Number(resources.DeliverEventLambdaFunction!.Properties.Environment.Variables.RETRY_BASE_SECONDS);
  const deliveryTimeout = 5;
  const times: number[] = [];
  let at = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    at += deliveryTimeout;
    times.push(at);
    at += backoffSeconds(attempt, base);
  }
  return times;
}

/** When the oldest-failing-event gauge first reports at or over the stalled alarm's threshold. */
function stalledTrigger(stalled: Resource): number {
  const crossing = failureTimes(20).find((t) => t >= stalled.Properties.Threshold);
  if (crossing === undefined) throw new Error("the stalled alarm's threshold is never reached");
  return crossing;
}

/** The source whose delay applies to a metric: a metric filter's metric comes from its log, late as that log. */
function metricSource(namespace: string, name: string): string {
  return byType("AWS::Logs::MetricFilter").some(([, f]) =>
    (f.Properties.MetricTransformations as Json[]).some((m) => m.MetricNamespace === namespace && m.MetricName === name),
  )
    ? `${namespace} (access log)`
    : namespace;
}

/**
 * Seconds from the start of an outage to the alarm's page: the time its metric needs to cross the
 * threshold (an age must grow to it: a failing event, a stuck stream record, a queue's oldest
 * message; a sweep that stopped breaches as missing data at once), plus period x datapoints to alarm,
 * plus the slowest of its metrics' documented delays.
 */
function timeToPage(alarm: Resource, delays: Record<string, number>): number {
  const p = alarm.Properties;
  const metrics = watchedMetrics(alarm);
  const period =
    (p.Period as number | undefined) ?? Math.max(...(p.Metrics as Json[]).map((m) => (m.Period ?? m.MetricStat?.Period ?? 0) as number));
  const datapoints = (p.DatapointsToAlarm ?? p.EvaluationPeriods) as number;
  const delay = Math.max(
    ...metrics.map((m) => {
      const source = metricSource(m.namespace, m.name);
      expect(delays[source], `RUNBOOK.md has no delay for ${source}`).toBeDefined();
      return delays[source]!;
    }),
  );
  const names = metrics.map((m) => m.name);
  let trigger = 0;
  if (names.includes("EventDeliveryFailingSeconds")) trigger = stalledTrigger(alarm);
  else if (names.includes("IteratorAge")) trigger = p.Threshold / 1000;
  else if (names.includes("ApproximateAgeOfOldestMessage")) trigger = p.Threshold;
  else if (names.includes("OldestDueAgeSeconds") && p.TreatMissingData !== "breaching") trigger = p.Threshold;
  return trigger + period * datapoints + delay;
}

describe("alerting and survival (issue 10)", () => {
  const env = (fn: string) => resources[`${logicalId(fn)}LambdaFunction`]!.Properties.Environment.Variables as Json;
  const alarm = (suffix: string) =>
    byType("AWS::CloudWatch::Alarm").find(([, a]) => a.Properties.AlarmName === `${prefix}-${suffix}`)?.[1] as Resource;

  it("watches custom metrics with the namespace and dimensions the code publishes them with", async () => {
    const filtered = metricFilterMetrics();
    const watched = byType("AWS::CloudWatch::Alarm").flatMap(([id, a]) =>
      watchedMetrics(a)
        .filter((m) => m.namespace === "AlipayPay" && !filtered.has(`AlipayPay ${m.name}`))
        .map((m) => ({ id, ...m })),
    );
    const emitted = await emittedDimensions([...new Set(watched.map((m) => m.name))]);
    for (const { id, name, dimensions } of watched) {
      expect([...(emitted.get(`AlipayPay ${name}`) ?? [])], `${id} ${name}`).toContain(dimensions.join(","));
    }
  });

  it("retries a business system's events for at least 72 hours before they dead-letter, within their retention", () => {
    const queue = resources.EventsQueue!.Properties;
    const maxReceiveCount = Number(queue.RedrivePolicy.maxReceiveCount);
    const window = retryWindowSeconds(maxReceiveCount, Number(env("deliverEvent").RETRY_BASE_SECONDS));
    expect(window.lastAttemptSeconds / 3600).toBeGreaterThanOrEqual(72);
    const attemptsTake = maxReceiveCount * Number(resources.DeliverEventLambdaFunction!.Properties.Timeout);
    expect(queue.MessageRetentionPeriod).toBeGreaterThan(window.deadLetterSeconds + attemptsTake);
    // A dead-lettered message keeps its age: the DLQ keeps it at least as long.
    expect(resources.EventsDeadLetterQueue!.Properties.MessageRetentionPeriod).toBeGreaterThanOrEqual(queue.MessageRetentionPeriod);
  });

  it("tickets a webhook failing every minute, and pages one that is down by the age of its oldest failing event", () => {
    const failures = alarm("event-delivery-failures");
    const [query] = failures.Properties.Metrics as Json[];
    expect(failures.Properties.Metrics).toHaveLength(1);
    // One series per business system, whatever systems are registered: the worst one each minute.
    expect(query!.Expression).toMatch(/FROM SCHEMA\(AlipayPay, [\w, ]*businessId.* GROUP BY businessId ORDER BY SUM\(\) DESC LIMIT 1$/);
    expect(failures.Properties.AlarmActions).toEqual([{ Ref: "TicketTopic" }]);

    const stalled = alarm("event-delivery-stalled");
    const [oldest] = stalled.Properties.Metrics as Json[];
    expect(oldest!.Expression).toMatch(
      /^SELECT MAX\(EventDeliveryFailingSeconds\) FROM SCHEMA\(AlipayPay, [\w, ]*businessId.* GROUP BY businessId ORDER BY MAX\(\) DESC LIMIT 1$/,
    );
    expect(stalled.Properties.AlarmActions).toEqual([{ Ref: "PageTopic" }]);
    expect(stalled.Properties.DatapointsToAlarm).toBe(1);
    // A lone event crosses the threshold at a retry (when its age is reported), and a webhook down for
    // a deploy's few seconds does not: its first two retries come and go under the threshold.
    expect(stalledTrigger(stalled)).toBeLessThan(300);
    expect(failureTimes(2).at(-1)!).toBeLessThan(stalled.Properties.Threshold);
    // Still in ALARM between the hourly retries of a system that keeps failing.
    expect(oldest!.Period * stalled.Properties.EvaluationPeriods).toBeGreaterThan(3600);
  });

  it("pages on one signed notification that does not match, never on what a stranger can send", () => {
    // Every reason is of one class: what anyone can POST, or what passed Alipay's signature.
    expect(unverifiedReasons.filter((r) => (mismatchReasons as readonly string[]).includes(r))).toEqual([]);
    const rejected = alarm("rejected-notifications");
    expect(rejected.Properties.AlarmActions).toEqual([{ Ref: "PageTopic" }]);
    expect(watchedMetrics(rejected).map((m) => m.name)).toEqual(["NotificationsMismatched"]);
    expect(rejected.Properties.Threshold).toBe(1);
    expect(rejected.Properties.ComparisonOperator).toBe("GreaterThanOrEqualToThreshold");
    // What a stranger can send is counted apart, and no page watches it (nor the total of all reasons).
    for (const [id, a] of byType("AWS::CloudWatch::Alarm")) {
      if (!refersTo(a.Properties.AlarmActions, "PageTopic")) continue;
      const names = watchedMetrics(a).map((m) => m.name);
      expect(names, id).not.toContain("NotificationsUnverified");
      expect(names, id).not.toContain("NotificationsRejected");
    }
    const flood = alarm("unverified-notifications");
    expect(flood.Properties.AlarmActions).toEqual([{ Ref: "TicketTopic" }]);
    expect(watchedMetrics(flood).map((m) => m.name)).toEqual(["NotificationsUnverified"]);
    expect(flood.Properties.Threshold).toBeGreaterThanOrEqual(20);
  });

  it("pages when most of Alipay's gateway calls fail, not on a lone failure among calls that succeed", () => {
    const unavailable = alarm("alipay-unavailable");
    expect(unavailable.Properties.AlarmActions).toEqual([{ Ref: "PageTopic" }]);
    const breaches = (calls: number | undefined, failed: number | undefined) => {
      const value = alarmValue(unavailable, (metric) => (metric.MetricName === "AlipayCalls" ? calls : failed));
      return unavailable.Properties.ComparisonOperator === "GreaterThanThreshold"
        ? value > unavailable.Properties.Threshold
        : value >= unavailable.Properties.Threshold;
    };
    expect(breaches(undefined, undefined)).toBe(false);
    expect(breaches(40, undefined)).toBe(false);
    expect(breaches(2, 1)).toBe(false);
    expect(breaches(3, 3)).toBe(true);
    expect(breaches(1, 1)).toBe(true);
    expect(breaches(100, 60)).toBe(true);
    for (const m of watchedMetrics(unavailable)) expect(m).toMatchObject({ namespace: "AlipayPay", dimensions: ["service"] });
    // A minute alone is not an outage: two of three.
    expect(unavailable.Properties.DatapointsToAlarm).toBe(2);
  });

  it("pages on DynamoDB throttling of the table and of every one of its indexes", () => {
    const throttles = alarm("dynamodb-throttles");
    expect(throttles.Properties.AlarmActions).toEqual([{ Ref: "PageTopic" }]);
    const metrics = throttles.Properties.Metrics as Json[];
    const watched = metrics
      .filter((m) => m.MetricStat)
      .map((m) => {
        const metric = m.MetricStat.Metric as Json;
        expect(metric.Namespace).toBe("AWS/DynamoDB");
        const dimensions = Object.fromEntries((metric.Dimensions as Json[]).map((d) => [d.Name, d.Value]));
        expect(dimensions.TableName, m.Id).toEqual({ Ref: "OrdersTable" });
        return `${metric.MetricName} ${dimensions.GlobalSecondaryIndexName ?? "(table)"}`;
      })
      .sort();
    const indexes = (resources.OrdersTable!.Properties.GlobalSecondaryIndexes as Json[]).map((i) => i.IndexName as string);
    expect(indexes.length).toBeGreaterThan(0);
    expect(watched).toEqual(["(table)", ...indexes].flatMap((on) => [`ReadThrottleEvents ${on}`, `WriteThrottleEvents ${on}`]).sort());
    // The alarm's expression adds them all: throttling anywhere breaches.
    for (const m of metrics.filter((x) => x.MetricStat)) {
      const value = alarmValue(throttles, (metric) => (metric === m.MetricStat.Metric ? 1 : undefined));
      expect(value, m.Id).toBeGreaterThanOrEqual(throttles.Properties.Threshold);
    }
  });

  it("pages on the notify route's 429s, counted from the HTTP API's access log", () => {
    const [[, filter]] = byType("AWS::Logs::MetricFilter") as [[string, Resource]];
    const stage = resources.HttpApiStage!.Properties;
    expect(filter.Properties.LogGroupName).toEqual({ Ref: "HttpApiLogGroup" });
    expect(stage.AccessLogSettings.DestinationArn).toEqual({ "Fn::GetAtt": ["HttpApiLogGroup", "Arn"] });
    // A log line as API Gateway writes it with the stage's format, for a request of the given route and status.
    const line = (routeKey: string, status: number) =>
      JSON.parse(
        (stage.AccessLogSettings.Format as string).replace(/\$context\.([\w.]+)/g, (_, v: string) =>
          v === "routeKey" ? routeKey : v === "status" ? String(status) : "x",
        ),
      ) as Json;
    // The filter pattern's conditions ({ ($.a = "v") && ($.b = "w") }), applied as CloudWatch Logs would.
    const conditions = [...(filter.Properties.FilterPattern as string).matchAll(/\$\.(\w+) = "([^"]*)"/g)];
    expect(conditions.length).toBe(2);
    expect(filter.Properties.FilterPattern).toMatch(/^\{ \(\$\.\w+ = "[^"]*"\) && \(\$\.\w+ = "[^"]*"\) \}$/);
    const counts = (entry: Json) => conditions.every(([, field, value]) => typeof entry[field!] === "string" && entry[field!] === value);
    expect(routes()["POST /alipay/notify"]).toBeDefined();
    expect(counts(line("POST /alipay/notify", 429))).toBe(true);
    expect(counts(line("POST /alipay/notify", 200))).toBe(false);
    expect(counts(line("POST /v1/payments", 429))).toBe(false);
    const [transformation] = filter.Properties.MetricTransformations as Json[];
    const throttled = alarm("notify-throttled");
    expect(throttled.Properties.AlarmActions).toEqual([{ Ref: "PageTopic" }]);
    expect(watchedMetrics(throttled)).toEqual([
      { namespace: transformation!.MetricNamespace, name: transformation!.MetricName, dimensions: [] },
    ]);
    expect(throttled.Properties.Statistic).toBe("Sum");
    // An occasional burst over the bucket does not page: a minute's worth of 429s at the route's rate would.
    const notify = stage.RouteSettings["POST /alipay/notify"] as Json;
    expect(throttled.Properties.Threshold).toBeGreaterThan(1);
    expect(throttled.Properties.Threshold).toBeLessThanOrEqual(notify.ThrottlingRateLimit * 60);
  });

  it("pages every outage class within 5 minutes: period x datapoints to alarm + the metric's documented delay", () => {
    const delays = metricDelays();
    const pages = byType("AWS::CloudWatch::Alarm").filter(([, a]) => refersTo(a.Properties.AlarmActions, "PageTopic"));
    expect(pages.length).toBeGreaterThan(0);
    for (const [id, a] of pages) expect(timeToPage(a, delays), `${id} ${a.Properties.AlarmName}`).toBeLessThanOrEqual(300);
    // The outages issue 17 names, each paged.
    for (const name of [
      "event-delivery-stalled",
      "alipay-unavailable",
      "dynamodb-throttles",
      "notify-throttled",
      "check-dlq",
      "events-dlq",
      "publish-failures",
      "publish-iterator-age",
      "rejected-notifications",
    ]) {
      expect(alarm(name)?.Properties.AlarmActions, name).toEqual([{ Ref: "PageTopic" }]);
    }
  });

  it("lists every alarm in RUNBOOK.md's table with its severity and the time to page its definition gives", () => {
    const delays = metricDelays();
    const table = runbookAlarmTable();
    const alarms = byType("AWS::CloudWatch::Alarm");
    const expected = Object.fromEntries(
      alarms.map(([, a]) => [
        (a.Properties.AlarmName as string).slice(prefix.length + 1),
        { severity: refersTo(a.Properties.AlarmActions, "PageTopic") ? "page" : "ticket", seconds: timeToPage(a, delays) },
      ]),
    );
    expect(table).toEqual(expected);
  });

  it("subscribes the page topic's email and pager and the ticket topic's email from stage parameters without defaults", () => {
    const subscriptions = Object.fromEntries(
      byType("AWS::SNS::Subscription").map(([id, s]) => [id, { ...s.Properties, condition: (s as Json).Condition as string }]),
    );
    expect(subscriptions).toEqual({
      PageEmailSubscription: expect.objectContaining({ TopicArn: { Ref: "PageTopic" }, Protocol: "email", condition: "PageEmailSet" }),
      PagerSubscription: expect.objectContaining({ TopicArn: { Ref: "PageTopic" }, Protocol: "https", condition: "PagerEndpointSet" }),
      TicketEmailSubscription: expect.objectContaining({
        TopicArn: { Ref: "TicketTopic" },
        Protocol: "email",
        condition: "TicketEmailSet",
      }),
    });
    // Packaged with the test's stage parameters (test/integration/stageParams.ts), each is created.
    for (const { condition } of Object.values(subscriptions))
      expect(conditionHolds(conditions[condition], conditions), condition).toBe(true);
    // Nowhere a default: a stage deployed without them fails to package instead of paging a placeholder.
    const params = (readYaml(join(projectRoot, "serverless.yml")) as Json).params as Json;
    for (const name of ["pageEmail", "pagerHttpsEndpoint", "ticketEmail"]) expect(params.default, name).not.toHaveProperty(name);
    // Given, each one is subscribed.
    const out = join(tmpdir(), `alipay-pay-paging-${process.pid}`);
    execFileSync(
      "npx",
      [
        "serverless",
        "package",
        "--stage",
        "dev",
        ...paramOptions({
          pageEmail: "oncall@ci.test",
          pagerHttpsEndpoint: "https://events.pagerduty.ci.test/integration/k/enqueue",
          ticketEmail: "team@ci.test",
        }),
        "--package",
        out,
      ],
      { cwd: projectRoot, stdio: "pipe", timeout: 180_000 },
    );
    const given = JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"));
    rmSync(out, { recursive: true, force: true });
    const endpoints = Object.fromEntries(
      Object.entries(given.Resources as Record<string, Resource & { Condition?: string }>)
        .filter(([, r]) => r.Type === "AWS::SNS::Subscription")
        .map(([id, r]) => [id, conditionHolds(given.Conditions[r.Condition!], given.Conditions) ? r.Properties.Endpoint : "none"]),
    );
    expect(endpoints).toEqual({
      PageEmailSubscription: "oncall@ci.test",
      PagerSubscription: "https://events.pagerduty.ci.test/integration/k/enqueue",
      TicketEmailSubscription: "team@ci.test",
    });
  }, 180_000);

  it("throttles the public notify route and caps alipayNotify's concurrency below the throttle's burst", () => {
    expect(routes()["POST /alipay/notify"]?.auth).toBe("NONE");
    const stage = resources.HttpApiStage!;
    const notify = stage.Properties.RouteSettings?.["POST /alipay/notify"] as Json | undefined;
    expect(notify?.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(notify?.ThrottlingBurstLimit).toBeGreaterThan(0);
    // Route settings name a route that must exist before the stage is updated.
    expect(stage.DependsOn).toContain("HttpApiRoutePostAlipayNotify");
    // A flood meets API Gateway's 429 before Lambda throttles (which page) the function.
    const reserved = resources.AlipayNotifyLambdaFunction!.Properties.ReservedConcurrentExecutions;
    expect(reserved).toBeGreaterThanOrEqual(notify!.ThrottlingBurstLimit);
  });

  it("claims a payment for the sweep longer than its check message can retry", () => {
    const maxReceiveCount = Number(resources.CheckQueue!.Properties.RedrivePolicy.maxReceiveCount);
    const window = retryWindowSeconds(maxReceiveCount, Number(env("checkPayment").RETRY_BASE_SECONDS));
    const attemptsTake = maxReceiveCount * Number(resources.CheckPaymentLambdaFunction!.Properties.Timeout);
    expect(Number(env("sweep").SWEEP_LEASE_SECONDS)).toBeGreaterThan(window.deadLetterSeconds + attemptsTake);
  });

  it("sweeps one shard per invocation, all shards at once, and never retries a sweep on top of a newer one", () => {
    // The schedule's period is what makes a shard message stale (lib/payments/sweep.ts).
    const rule = byType("AWS::Events::Rule").find(([, r]) => refersTo(r.Properties.Targets, "SweepLambdaFunction"))!;
    expect(rule[1].Properties.ScheduleExpression).toBe("rate(1 minute)");
    expect(sweepPeriodMs).toBe(60_000);
    // Only the fan-out knows the sweep queue.
    for (const fn of functionNames) {
      const variables = resources[`${logicalId(fn)}LambdaFunction`]!.Properties.Environment.Variables as Json;
      if (fn === "sweep") expect(variables.SWEEP_QUEUE_URL).toEqual({ Ref: "SweepQueue" });
      else expect(variables, fn).not.toHaveProperty("SWEEP_QUEUE_URL");
    }
    const [, mapping] = byType("AWS::Lambda::EventSourceMapping").find(([id]) => id.startsWith("SweepShard"))!;
    expect(mapping.Properties.EventSourceArn).toEqual({ "Fn::GetAtt": ["SweepQueue", "Arn"] });
    expect(mapping.Properties.BatchSize).toBe(1);
    expect(mapping.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    // Every shard (DUE#0..n-1 and DUE) swept at once: a capped shard would wait for another's invocation.
    const shards = Number(env("sweepShard").SWEEP_SHARDS);
    const maximum = mapping.Properties.ScalingConfig?.MaximumConcurrency as number;
    expect(maximum).toBeGreaterThanOrEqual(shards + 1);
    expect(maximum).toBeGreaterThanOrEqual(2);
    expect(maximum).toBeLessThanOrEqual(1000);
    // AWS requires the visibility timeout >= the function's timeout; at the schedule's period or more,
    // a failed sweep's message is back only once stale (dropped), and it expires then anyway.
    const queue = resources.SweepQueue!.Properties;
    const timeout = Number(resources.SweepShardLambdaFunction!.Properties.Timeout);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(timeout);
    expect(queue.VisibilityTimeout * 1000).toBeGreaterThanOrEqual(sweepPeriodMs);
    expect(queue.MessageRetentionPeriod * 1000).toBeLessThanOrEqual(sweepPeriodMs);
    expect(queue.RedrivePolicy).toBeUndefined();
    // A shard's sweep ends (10 s to spare) before the next minute's message for it.
    expect(timeout * 1000).toBeLessThan(sweepPeriodMs);
  });

  it("bounds the check worker's and the events worker's concurrency", () => {
    for (const fn of ["CheckPayment", "DeliverEvent"]) {
      const [, mapping] = byType("AWS::Lambda::EventSourceMapping").find(([id]) => id.startsWith(fn))!;
      const maximum = mapping.Properties.ScalingConfig?.MaximumConcurrency as number | undefined;
      expect(maximum, fn).toBeGreaterThanOrEqual(2);
      expect(maximum, fn).toBeLessThanOrEqual(50);
    }
  });
});

describe("data: retention, deletion, exposure", () => {
  it("retains the dead-letter queues, and the table is retained and protected from deletion", () => {
    for (const id of ["CheckDeadLetterQueue", "EventsDeadLetterQueue", "PublishFailuresQueue"]) {
      expect(resources[id], id).toMatchObject({ DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    }
    expect(resources.OrdersTable).toMatchObject({
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: { DeletionProtectionEnabled: true, TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true } },
    });
  });

  it("answers no browser's cross-origin request (no CORS)", () => {
    const apis = byType("AWS::ApiGatewayV2::Api");
    expect(apis).toHaveLength(1);
    expect(apis[0]![1].Properties.CorsConfiguration).toBeUndefined();
  });

  it("gives the functions only variables the code reads, with the retention of unpaid payments", () => {
    const code = ["lib", "functions"]
      .flatMap((dir) =>
        readdirSync(join(projectRoot, dir), { recursive: true })
          .map(String)
          .filter((file) => file.endsWith(".ts"))
          .map((file) => readText(join(dir, file))),
      )
      .join("\n");
    for (const [id, fn] of byType("AWS::Lambda::Function")) {
      const variables = fn.Properties.Environment.Variables as Json;
      // POWERTOOLS_* are read by Powertools itself, NODE_OPTIONS by Node.
      const unread = Object.keys(variables).filter(
        (name) => !name.startsWith("POWERTOOLS_") && name !== "NODE_OPTIONS" && !code.includes(`"${name}"`),
      );
      expect(unread, id).toEqual([]);
      expect(variables.UNPAID_PAYMENT_RETENTION_DAYS, id).toBe("400");
    }
  });

  it("decrypts secrets under aws/ssm without a grant, or under the customer-managed key secretsKmsKeyArn names", () => {
    const readsSecrets = (template: { Resources: Record<string, Resource>; Conditions?: Json }, id: string) =>
      (template.Resources[id]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Json[] } }>)
        .flatMap((p) => deployedStatements(p.PolicyDocument.Statement, template.Conditions ?? {}))
        .filter((statement) => [statement.Action].flat().some((action) => action === "ssm:GetParameter" || action === "kms:Decrypt"));
    const roles = functionNames.map((fn) => `${logicalId(fn)}Role`);
    // The default (aws/ssm): SSM decrypts for whoever may read the parameter; no KMS grant anywhere.
    for (const id of roles) {
      expect(
        readsSecrets({ Resources: resources, Conditions: conditions }, id).filter((s) => [s.Action].flat().includes("kms:Decrypt")),
        id,
      ).toEqual([]);
    }
    // A customer-managed key: every role that reads a secret may decrypt with that key, through SSM only.
    const key = "arn:aws:kms:ap-southeast-1:111122223333:key/0b6e5c2a-1111-2222-3333-444455556666";
    const out = join(tmpdir(), `alipay-pay-cmk-${process.pid}`);
    execFileSync("npx", ["serverless", "package", "--stage", "dev", ...paramOptions({ secretsKmsKeyArn: key }), "--package", out], {
      cwd: projectRoot,
      stdio: "pipe",
      timeout: 180_000,
    });
    const withKey = JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"));
    rmSync(out, { recursive: true, force: true });
    let readers = 0;
    for (const id of roles) {
      const statements = readsSecrets(withKey, id);
      const decrypt = statements.filter((s) => [s.Action].flat().includes("kms:Decrypt"));
      if (!statements.some((s) => [s.Action].flat().includes("ssm:GetParameter"))) {
        expect(decrypt, id).toEqual([]);
        continue;
      }
      readers += 1;
      expect(decrypt, id).toEqual([
        {
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: key,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
          Condition: { StringEquals: { "kms:ViaService": { "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com" } } },
        },
      ]);
    }
    expect(readers).toBe(7);
  }, 180_000);
});
