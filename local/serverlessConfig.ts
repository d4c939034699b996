// Reads serverless.yml the way the framework does for what the local stack needs: functions, their
// events, provider environment and the CloudFormation resources pulled in from infra/. Variables
// (${self:}, ${sls:stage}, ${opt:}, ${param:}, ${env:}, ${file()} of YAML or of a .cjs file's export)
// are resolved here; CloudFormation intrinsics (!Ref, !GetAtt, !Sub, !Join) are kept as objects and resolved by the provisioner.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { parse, type Tags } from "yaml";

export const projectRoot = resolve(dirname(new URL(import.meta.url).pathname), "..");
const requireModule = createRequire(import.meta.url);

const cfnTags: Tags = [
  { tag: "!Ref", resolve: (value: string) => ({ Ref: value }) },
  { tag: "!GetAtt", resolve: (value: string) => ({ "Fn::GetAtt": value.split(".") }) },
  { tag: "!Sub", resolve: (value: string) => ({ "Fn::Sub": value }) },
  { tag: "!Join", collection: "seq", resolve: (value: { toJSON(): unknown }) => ({ "Fn::Join": value.toJSON() }) },
];

export function readYaml(path: string): unknown {
  return parse(readFileSync(resolve(projectRoot, path), "utf8"), { customTags: cfnTags });
}

/** How API Gateway authorizes a route: a JWT authorizer of provider.httpApi.authorizers, or IAM (SigV4). */
export type RouteAuth = { kind: "jwt"; name: string } | { kind: "iam" };
export interface HttpRoute {
  method: string;
  path: string;
  /** undefined: a public route. */
  auth: RouteAuth | undefined;
}
export interface SqsSource {
  queueLogicalId: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
}
export interface StreamSource {
  tableLogicalId: string;
  batchSize: number;
  /** -1: until the record leaves the stream. */
  maximumRetryAttempts: number;
  /** -1: no limit (the stream's 24 h retention). */
  maximumRecordAgeInSeconds: number;
  bisectBatchOnFunctionError: boolean;
  reportBatchItemFailures: boolean;
  filterPatterns: unknown[];
  onFailureQueueLogicalId?: string;
}
export interface LocalFunction {
  name: string;
  /** e.g. functions/createOrder.handler */
  handler: string;
  timeoutSeconds: number;
  /** The function's own variables (functions.<name>.environment), on top of the provider's. */
  environment: Record<string, unknown>;
  http: HttpRoute[];
  sqs: SqsSource[];
  streams: StreamSource[];
  schedules: string[];
}
export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}
export interface LocalService {
  service: string;
  stage: string;
  region: string;
  environment: Record<string, unknown>;
  jwtAuthorizers: Record<string, { issuerUrl: string; audience: string[] }>;
  functions: LocalFunction[];
  resources: Record<string, CfnResource>;
}

type Raw = Record<string, any>;

export function loadService(stage: string, env: NodeJS.ProcessEnv = process.env): LocalService {
  const raw = readYaml("serverless.yml") as Raw;
  const resolved = resolveVariables(raw, raw, stage, env) as Raw;
  const provider = resolved.provider as Raw;
  const resources: Record<string, CfnResource> = {};
  for (const part of resolved.resources as Raw[]) Object.assign(resources, part.Resources);
  const authorizers = (provider.httpApi?.authorizers ?? {}) as Raw;
  const functions: LocalFunction[] = Object.entries(resolved.functions as Raw).map(([name, fn]) => {
    const events = (fn.events ?? []) as Raw[];
    return {
      name,
      handler: fn.handler,
      timeoutSeconds: Number(fn.timeout ?? provider.timeout ?? 6),
      environment: fn.environment ?? {},
      http: events
        .filter((e) => e.httpApi)
        .map((e) => ({
          method: String(e.httpApi.method).toUpperCase(),
          path: e.httpApi.path,
          auth: routeAuth(e.httpApi.authorizer, authorizers, `${name} ${e.httpApi.method} ${e.httpApi.path}`),
        })),
      sqs: events
        .filter((e) => e.sqs)
        .map((e) => ({
          queueLogicalId: e.sqs.arn["Fn::GetAtt"][0],
          batchSize: Number(e.sqs.batchSize ?? 10),
          reportBatchItemFailures: e.sqs.functionResponseType === "ReportBatchItemFailures",
        })),
      streams: events
        .filter((e) => e.stream)
        .map((e) => ({
          tableLogicalId: e.stream.arn["Fn::GetAtt"][0],
          batchSize: Number(e.stream.batchSize ?? 100),
          // Lambda's defaults: retry until the record expires, no age limit, no bisecting.
          maximumRetryAttempts: Number(e.stream.maximumRetryAttempts ?? -1),
          maximumRecordAgeInSeconds: Number(e.stream.maximumRecordAgeInSeconds ?? -1),
          bisectBatchOnFunctionError: e.stream.bisectBatchOnFunctionError === true,
          reportBatchItemFailures: e.stream.functionResponseType === "ReportBatchItemFailures",
          filterPatterns: e.stream.filterPatterns ?? [],
          onFailureQueueLogicalId: e.stream.destinations?.onFailure?.arn?.["Fn::GetAtt"]?.[0],
        })),
      schedules: events.filter((e) => e.schedule).map((e) => String(e.schedule.rate ?? e.schedule)),
    };
  });
  const jwtAuthorizers: LocalService["jwtAuthorizers"] = {};
  for (const [name, a] of Object.entries(authorizers)) {
    if ((a.type ?? "jwt") === "jwt") jwtAuthorizers[name] = { issuerUrl: a.issuerUrl, audience: a.audience };
  }
  return {
    service: resolved.service,
    stage,
    region: provider.region,
    environment: provider.environment ?? {},
    jwtAuthorizers,
    functions,
    resources,
  };
}

/**
 * An httpApi event's `authorizer` (Serverless Framework v3 / osls syntax): `{ name: <authorizer of
 * provider.httpApi.authorizers> }` for JWT, `{ type: aws_iam }` for IAM. Anything the local stack
 * cannot enforce is refused rather than served as a public route.
 */
function routeAuth(authorizer: unknown, authorizers: Raw, where: string): RouteAuth | undefined {
  if (authorizer === undefined || authorizer === null) return undefined;
  // `authorizer: mobileJwt` is shorthand for `authorizer: { name: mobileJwt }`.
  const spec = (typeof authorizer === "string" ? { name: authorizer } : authorizer) as Raw;
  if (spec.type !== undefined && String(spec.type).toLowerCase() === "aws_iam") {
    if (spec.name !== undefined || spec.id !== undefined)
      throw new Error(`serverless.yml: ${where}: an aws_iam authorizer takes no name or id`);
    return { kind: "iam" };
  }
  if (spec.type !== undefined) throw new Error(`serverless.yml: ${where}: authorizer type ${String(spec.type)} is not supported locally`);
  if (typeof spec.name !== "string") throw new Error(`serverless.yml: ${where}: authorizer needs a name (or type: aws_iam)`);
  const declared = authorizers[spec.name] as Raw | undefined;
  if (!declared) throw new Error(`serverless.yml: ${where}: authorizer ${spec.name} is not in provider.httpApi.authorizers`);
  if ((declared.type ?? "jwt") !== "jwt") {
    throw new Error(`serverless.yml: ${where}: authorizer ${spec.name} of type ${String(declared.type)} is not supported locally`);
  }
  return { kind: "jwt", name: spec.name };
}

const variablePattern = /\$\{([^{}]+)\}/g;

function resolveVariables(node: unknown, root: Raw, stage: string, env: NodeJS.ProcessEnv): unknown {
  if (Array.isArray(node)) return node.map((n) => resolveVariables(n, root, stage, env));
  if (node && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolveVariables(v, root, stage, env)]));
  }
  if (typeof node !== "string") return node;
  let text = node;
  // Innermost serverless variables first; ${AWS::Region}-style CloudFormation Sub variables stay.
  for (;;) {
    const match = [...text.matchAll(variablePattern)].find((m) => isServerlessVariable(m[1]!));
    if (!match) return text;
    const value = resolveOne(match[1]!, root, stage, env);
    if (match[0] === text && typeof value !== "string") {
      return typeof value === "object" ? resolveVariables(value, root, stage, env) : value;
    }
    text = text.replace(match[0], String(value));
  }
}

function isServerlessVariable(expression: string): boolean {
  return /^\s*(self:|sls:|opt:|env:|param:|file\()/.test(expression);
}

function resolveOne(expression: string, root: Raw, stage: string, env: NodeJS.ProcessEnv): unknown {
  const [source, ...fallbackParts] = splitTopLevelComma(expression);
  const fallback = fallbackParts.length ? unquote(fallbackParts.join(",").trim()) : undefined;
  const ref = source!.trim();
  let value: unknown;
  if (ref === "sls:stage" || ref === "opt:stage") value = stage;
  else if (ref.startsWith("opt:")) value = undefined;
  else if (ref.startsWith("self:"))
    value = ref
      .slice(5)
      .split(".")
      .reduce<any>((o, k) => o?.[k], root);
  else if (ref.startsWith("env:")) value = env[ref.slice(4)];
  else if (ref.startsWith("param:")) {
    const name = ref.slice(6);
    value = root.params?.[stage]?.[name] ?? root.params?.default?.[name];
  } else if (ref.startsWith("file(")) value = fileVariable(ref, root, stage, env);
  else throw new Error(`serverless.yml: unsupported variable \${${expression}}`);
  if (value === undefined) value = fallback;
  if (value === undefined) throw new Error(`serverless.yml: variable \${${expression}} has no value for stage ${stage}`);
  return value;
}

/**
 * `${file(infra/x.yml)}` is the YAML file; `${file(./scripts/x.cjs):name}` calls the module's `name`
 * with a variable resolver, as osls does (scripts/sizing.cjs). Locally the resolver is synchronous.
 */
function fileVariable(ref: string, root: Raw, stage: string, env: NodeJS.ProcessEnv): unknown {
  const path = ref.slice(5, ref.indexOf(")"));
  const address = ref
    .slice(ref.indexOf(")") + 1)
    .replace(/^:/, "")
    .trim();
  if (!/\.c?js$/.test(path)) return readYaml(path);
  const exported = (requireModule(resolve(projectRoot, path)) as Raw)[address];
  if (exported === undefined) throw new Error(`serverless.yml: ${path} exports no ${address}`);
  if (typeof exported !== "function") return exported;
  const value = exported({
    options: { stage },
    resolveVariable: (variable: string) => resolveVariables(`\${${variable}}`, root, stage, env),
  });
  if (value instanceof Promise) throw new Error(`serverless.yml: ${path}:${address} answered asynchronously`);
  return value;
}

function splitTopLevelComma(text: string): string[] {
  const index = text.indexOf(",");
  return index < 0 ? [text] : [text.slice(0, index), text.slice(index + 1)];
}

function unquote(text: string): string {
  return text.replace(/^['"]|['"]$/g, "");
}
