// `business try <businessId>`: is a business system's onboarding done end to end? Signs one harmless
// business API call as the system's caller (the business client, client/businessClient.ts, exactly
// as their server would) and explains the answer with the registry. The call looks up a business
// order that never exists, so nothing is created; a 404 payment_not_found means the signature, the
// IAM permission and the registry all let the caller through.
// Credentials are handed to the signer only: no report or message carries them.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsCredentials, createBusinessClient } from "../client/businessClient.js";
import { credentialsFileName, readLocalCredentials } from "../client/local.js";
import { type BusinessSystem, listBusinessSystems, principalMatches } from "../lib/business/registry.js";
import { config } from "../lib/config.js";
import { OpsError, UsageError } from "./errors.js";
import { checkBusinessId } from "./payments.js";

/** The business order the call looks up: never created by anyone (its payment would be a real one). */
export const onboardingCheckOrderId = "ops-onboarding-check";
const callPath = `/v1/payments?businessOrderId=${onboardingCheckOrderId}`;

export interface TryTarget {
  /** The business API's base URL. */
  apiUrl: string;
  region: string;
  /** A local stack's keys dir: sign with the system's local credentials. Without it: the default provider chain. */
  keysDir?: string;
}

export type RegistryView =
  | {
      read: true;
      registered: boolean;
      status?: BusinessSystem["status"];
      /** The role (or user) ARNs registered as its callers. */
      principals: string[];
      /** The system the signing role is registered for, when the role is known (local credentials). */
      callerRegisteredFor?: string[];
    }
  | { read: false; error: string };

export interface TryReport {
  businessId: string;
  /** authorized: its callers reach the API; other_system: the call passed, but as another system's caller. */
  outcome: "authorized" | "other_system" | "refused" | "unexpected";
  ok: boolean;
  summary: string;
  api: { url: string; region: string };
  call: { method: "GET"; path: string };
  /** Where the signing credentials came from (never the credentials). */
  signedWith: { source: "local credentials" | "default provider chain"; roleArn?: string };
  response: { status: number; body: unknown };
  registry: RegistryView;
  /** BUSINESS_CACHE_SECONDS of the functions, when the configuration says. */
  registryCacheSeconds?: number;
  hints: string[];
}

/** Where to call and in which region: the options, else the stack file's API and AWS_REGION. */
export function tryTarget(
  options: { apiUrl?: string; region?: string },
  context: { stackApiUrl?: string; keysDir?: string; local: boolean },
): TryTarget {
  const raw = options.apiUrl ?? context.stackApiUrl;
  if (!raw) {
    throw context.local
      ? new UsageError("the stack file has no urls.api", "Restart the local stack (`npm start`), or give --api-url.")
      : new UsageError(
          "business try: --api-url is required against AWS",
          "Give the business API's base URL, e.g. --api-url https://abc123.execute-api.ap-southeast-1.amazonaws.com",
        );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`"${raw}" is not a URL`, "Give the business API's base URL, e.g. https://pay.example.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError(`${raw}: the API URL must be http(s)`);
  if (url.username || url.password) throw new UsageError("the API URL must not hold credentials");
  const region = options.region ?? process.env.AWS_REGION;
  if (!region) throw new UsageError("business try: no region", "Give --region or set AWS_REGION to the API's region.");
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new UsageError(`"${region}" is not an AWS region (e.g. ap-southeast-1)`);
  return { apiUrl: raw, region, ...(context.keysDir ? { keysDir: context.keysDir } : {}) };
}

export async function tryBusiness(businessIdArg: string, target: TryTarget): Promise<TryReport> {
  const businessId = checkBusinessId(businessIdArg);
  let credentials: AwsCredentials | undefined;
  let roleArn: string | undefined;
  let registry: RegistryView;
  if (target.keysDir) {
    // Locally the registry is always readable, and without credentials there is no call to make.
    const systems = await listBusinessSystems({ fresh: true });
    registry = registryView(systems, businessId, undefined);
    const local = localCaller(businessId, target.keysDir, registry);
    credentials = local.credentials;
    roleArn = local.roleArn;
    registry = registryView(systems, businessId, roleArn);
  } else {
    registry = { read: false, error: "not read yet" };
  }

  const client = createBusinessClient({ baseUrl: target.apiUrl, region: target.region, ...(credentials ? { credentials } : {}) });
  const response = await client.findPayment(onboardingCheckOrderId);
  // On AWS the operator signs as the business system's role, which usually cannot read our table:
  // the registry then only explains what it can.
  if (!registry.read) registry = await readRegistryTolerantly(businessId);
  const registryCacheSeconds = await cacheSecondsIfConfigured();

  const base = {
    businessId,
    api: { url: target.apiUrl, region: target.region },
    call: { method: "GET" as const, path: callPath },
    signedWith: {
      source: credentials ? ("local credentials" as const) : ("default provider chain" as const),
      ...(roleArn ? { roleArn } : {}),
    },
    response: { status: response.status, body: response.body },
    registry,
    ...(registryCacheSeconds !== undefined ? { registryCacheSeconds } : {}),
  };
  const code = errorCode(response.body);
  if (response.status === 404 && code === "payment_not_found") return { ...base, ...accepted(businessId, registry) };
  if (response.status === 403) return { ...base, ...refused(businessId, registry, response.body, registryCacheSeconds) };
  return {
    ...base,
    outcome: "unexpected",
    ok: false,
    summary: `unexpected answer: ${response.status}${code ? ` ${code}` : ""} (expected 404 payment_not_found)`,
    hints: unexpectedHints(response.status, response.body),
  };
}

/** The system's local credentials (never printed) and the role they stand for. */
function localCaller(businessId: string, keysDir: string, registry: RegistryView): { credentials: AwsCredentials; roleArn?: string } {
  let credentials: AwsCredentials;
  try {
    credentials = readLocalCredentials(businessId, keysDir);
  } catch (error) {
    const known = localSystems(keysDir);
    const samples = known.length > 0 ? known.join(", ") : "none";
    if (registry.read && !registry.registered) {
      throw new OpsError(
        `no business system ${businessId}: it is not in the registry and has no local credentials`,
        1,
        `\`npm run ops -- --local business list\` shows the registered ones; local credentials exist for: ${samples}.`,
      );
    }
    const principals = registry.read && registry.principals.length > 0 ? ` Its registered callers: ${registry.principals.join(", ")}.` : "";
    throw new OpsError(
      known.length > 0
        ? `${businessId} has no local credentials: the local stack signs only as its sample systems (${samples})`
        : `no local credentials to sign as ${businessId}: ${(error as Error).message}`,
      1,
      `Try it against AWS as one of its roles instead (assume the role, then \`npm run ops -- business try ${businessId} --api-url <url>\`).${principals}`,
    );
  }
  return { credentials, ...localRoleArn(businessId, keysDir) };
}

/** The role ARN recorded next to the local credentials (the emulated API Gateway reports its session). */
function localRoleArn(businessId: string, keysDir: string): { roleArn?: string } {
  try {
    const all = JSON.parse(readFileSync(join(keysDir, credentialsFileName), "utf8")) as Record<string, { roleArn?: unknown }>;
    const roleArn = all[businessId]?.roleArn;
    return typeof roleArn === "string" ? { roleArn } : {};
  } catch {
    return {};
  }
}

function localSystems(keysDir: string): string[] {
  const file = join(keysDir, credentialsFileName);
  if (!existsSync(file)) return [];
  try {
    return Object.keys(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>);
  } catch {
    return [];
  }
}

function registryView(systems: BusinessSystem[], businessId: string, roleArn: string | undefined): RegistryView {
  const system = systems.find((s) => s.businessId === businessId);
  const callerRegisteredFor = roleArn
    ? systems.filter((s) => s.principals.some((p) => principalMatches(roleArn, p))).map((s) => s.businessId)
    : undefined;
  return {
    read: true,
    registered: !!system,
    ...(system ? { status: system.status } : {}),
    principals: system ? [...system.principals] : [],
    ...(callerRegisteredFor ? { callerRegisteredFor } : {}),
  };
}

async function readRegistryTolerantly(businessId: string): Promise<RegistryView> {
  try {
    return registryView(await listBusinessSystems({ fresh: true }), businessId, undefined);
  } catch (error) {
    return {
      read: false,
      error: error instanceof Error ? `${error.name !== "Error" ? `${error.name}: ` : ""}${error.message}` : String(error),
    };
  }
}

async function cacheSecondsIfConfigured(): Promise<number | undefined> {
  try {
    return (await config()).businessCacheSeconds;
  } catch {
    return undefined;
  }
}

const errorCode = (body: unknown): string | undefined =>
  body && typeof body === "object" && typeof (body as { code?: unknown }).code === "string" ? (body as { code: string }).code : undefined;

const gatewayMessage = (body: unknown): string | undefined =>
  body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string"
    ? (body as { message: string }).message
    : typeof body === "string" && body.length > 0
      ? body
      : undefined;

const roles = (principals: string[]) => (principals.length > 0 ? principals.join(", ") : "none");
const within = (seconds: number | undefined) =>
  `Registry changes take up to BUSINESS_CACHE_SECONDS${seconds !== undefined ? ` (${seconds} s here)` : " (60 s on AWS unless set)"} to apply: a system just added, enabled or given a role is refused until then; try again after that long.`;
const unreadRegistry = (businessId: string, registry: { error: string }) =>
  `The registry could not be read with these credentials (${registry.error}): check it with your ops identity, \`npm run ops -- business show ${businessId}\`.`;

function accepted(businessId: string, registry: RegistryView): Pick<TryReport, "outcome" | "ok" | "summary" | "hints"> {
  const authorized = {
    outcome: "authorized" as const,
    ok: true,
    summary: `authorized: ${businessId}'s callers reach the business API`,
  };
  if (!registry.read) {
    return {
      ...authorized,
      hints: [
        `The API does not say which system a caller is: make sure you signed as one of ${businessId}'s registered roles (\`business show ${businessId}\`).`,
        unreadRegistry(businessId, registry),
      ],
    };
  }
  // The call passed, so the caller is some ACTIVE system's: if the registry says it is not this
  // one's, the operator signed with the wrong role and this system's onboarding is not shown.
  const owners = registry.callerRegisteredFor;
  const otherOwner = owners !== undefined && !owners.includes(businessId);
  if (!registry.registered || registry.status !== "ACTIVE" || otherOwner) {
    const whose = owners && owners.length > 0 ? `a caller of ${owners.join(", ")}` : "another system's caller";
    return {
      outcome: "other_system",
      ok: false,
      summary: `the call passed, but as ${whose}, not as ${businessId}'s`,
      hints: [
        !registry.registered
          ? `${businessId} is not in the registry: \`business add ${businessId}\` registers it.`
          : `${businessId} is ${registry.status}; its registered roles: ${roles(registry.principals)}.`,
        `Sign as one of ${businessId}'s roles and try again.`,
      ],
    };
  }
  return { ...authorized, hints: [] };
}

function refused(
  businessId: string,
  registry: RegistryView,
  body: unknown,
  cacheSeconds: number | undefined,
): Pick<TryReport, "outcome" | "ok" | "summary" | "hints"> {
  const hints: string[] = [];
  const byFunction = errorCode(body) === "forbidden";
  const message = gatewayMessage(body);
  if (byFunction) {
    hints.push("The signature and the IAM permission passed; the business API found no registered, ACTIVE system for the caller.");
  } else {
    hints.push(`API Gateway refused the call before it reached the business API: ${message ?? "(no message)"}.`);
    if (message && /not authorized to perform/.test(message)) {
      hints.push(
        `The caller's role needs execute-api:Invoke on the business API's /v1/payments* routes. HTTP APIs admit only roles of the payment center's own account: a system in another account calls through a role here (\`business add --account\`).`,
      );
    } else if (message && /security token|signature we calculated|Credential should be scoped|Signature expired/.test(message)) {
      hints.push(
        "The credentials or the signing are wrong: expired or unknown keys, another region (--region), or a URL that is not the API's.",
      );
    }
  }
  if (registry.read) {
    if (!registry.registered) {
      hints.push(
        `${businessId} is not in the registry: register it with \`business add ${businessId} --principal <roleArn> --webhook-url <url>\`.`,
      );
    } else {
      hints.push(
        `${businessId} is registered and ${registry.status}${registry.status === "DISABLED" ? `: its calls are refused until \`business enable ${businessId}\`` : ""}.`,
      );
      hints.push(`Its registered roles: ${roles(registry.principals)}. The caller must assume one of them.`);
    }
    if (registry.callerRegisteredFor !== undefined && registry.registered && !registry.callerRegisteredFor.includes(businessId)) {
      hints.push(
        registry.callerRegisteredFor.length > 0
          ? `The signing role is registered for ${registry.callerRegisteredFor.join(", ")}, not for ${businessId}.`
          : `The signing role is not registered for any system.`,
      );
    }
  } else {
    hints.push(`The caller must assume one of ${businessId}'s registered roles.`);
    hints.push(unreadRegistry(businessId, registry));
  }
  hints.push(within(cacheSeconds));
  return { outcome: "refused", ok: false, summary: `refused: ${businessId}'s callers get 403 from the business API`, hints };
}

function unexpectedHints(status: number, body: unknown): string[] {
  if (status === 404) return ["No such route: is --api-url the business API's base URL (with its stage path, if it has one)?"];
  if (status === 401) return ["401 is the app API's answer (JWT): is --api-url the business API?"];
  if (status >= 500) return ["The business API failed: see its logs (RUNBOOK.md#api-5xx-rate)."];
  return gatewayMessage(body) ? [] : ["See the body above."];
}
