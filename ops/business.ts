// `business add|list|show|update|disable|enable|rotate-secret`: the registry of business systems
// (lib/business/registry.ts), changed without a redeploy. Every change is one conditional write
// of the system's item: a create only if the id is new, any other change only if the item is
// still as it was read (its updatedAt), so two operators never silently undo each other.
// Webhook secrets are generated here and stored before the item that names them; the value is
// returned once (the CLI prints it for the business team) and never logged.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "../lib/aws.js";
import { type BusinessSystem, businessKey, listBusinessSystems, principalMatches } from "../lib/business/registry.js";
import { config } from "../lib/config.js";
import { OpsError, UsageError } from "./errors.js";
import { checkBusinessId } from "./payments.js";

/** Where new webhook secrets go: SSM Parameter Store (AWS) or the local stack's keys dir. */
export type SecretStore = { kind: "ssm"; stage: string } | { kind: "file"; dir: string };

/** The serverless.yml service name: SSM parameters of a stage live under /<service>/<stage>/. */
const service = "alipay-pay";

export const defaultPaymentExpirySeconds = 1800;
export const defaultOverlapHours = 24;

/** Where generation `generation` of a system's webhook secret is stored, and its reference. */
export function secretLocation(store: SecretStore, businessId: string, generation: number): { location: string; reference: string } {
  if (store.kind === "ssm") {
    const name = `/${service}/${store.stage}/business/${businessId}/webhook-secret-${generation}`;
    return { location: name, reference: `ssm:${name}` };
  }
  const path = join(store.dir, `webhook-${businessId}-${generation}.txt`);
  return { location: path, reference: `file:${path}` };
}

/** The generation a reference names; a reference made otherwise (the local sample systems') counts as 1. */
export function secretGeneration(reference: string | undefined, businessId: string): number {
  if (!reference) return 0;
  const escaped = businessId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = /\/webhook-secret-(\d+)$/.exec(reference) ?? new RegExp(`webhook-${escaped}-(\\d+)\\.txt$`).exec(reference);
  return match ? Number(match[1]) : 1;
}

/**
 * Stores a new secret at the first free generation from `from` on. Never overwrites: a secret
 * that exists may be in use (or was left by a write that failed afterwards), so it is skipped.
 */
async function storeNewSecret(
  store: SecretStore,
  businessId: string,
  from: number,
): Promise<{ secret: string; reference: string; generation: number }> {
  const secret = randomBytes(32).toString("hex");
  for (let generation = from; generation < from + 10; generation += 1) {
    const { location, reference } = secretLocation(store, businessId, generation);
    if (await createSecret(store, location, secret, `Webhook signing secret ${generation} of business system ${businessId}`)) {
      return { secret, reference, generation };
    }
  }
  throw new OpsError(
    `webhook secrets ${from} to ${from + 9} of ${businessId} all exist already`,
    1,
    "Delete the unused ones (none of them is referenced by the registry), then run again.",
  );
}

/** False when something is stored there already. */
async function createSecret(store: SecretStore, location: string, value: string, description: string): Promise<boolean> {
  if (store.kind === "file") {
    mkdirSync(store.dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(location, value, { flag: "wx", mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  }
  const { SSMClient, PutParameterCommand } = await import("@aws-sdk/client-ssm");
  const client = new SSMClient({ maxAttempts: 3 });
  try {
    await client.send(
      new PutParameterCommand({ Name: location, Value: value, Type: "SecureString", Overwrite: false, Description: description }),
    );
    return true;
  } catch (error) {
    if ((error as Error).name === "ParameterAlreadyExists") return false;
    throw error;
  } finally {
    client.destroy();
  }
}

// --- validation (exit status 2) ---

const partitionAccount = "arn:(aws|aws-cn|aws-us-gov):(iam|sts)::(\\d{12}):";
const iamName = "[\\w+=,.@-]{1,64}";
const principalPattern = new RegExp(`^${partitionAccount}(role|user)/(?:[\\w+=,.@-]+/)*(${iamName})$`);
const sessionPattern = new RegExp(`^${partitionAccount}assumed-role/(${iamName})/[\\w+=,.@-]{2,64}$`);

/** An IAM role (or user) ARN; an assumed-role session is refused with the role to register instead. */
export function checkPrincipal(arn: string): string {
  const match = principalPattern.exec(arn);
  if (match && match[2] === "iam") return arn;
  const session = sessionPattern.exec(arn);
  if (session) {
    throw new UsageError(
      `"${arn}" is a role session, which changes with every session`,
      `Register the role: arn:${session[1]}:iam::${session[3]}:role/${session[4]} (with its path, if it has one).`,
    );
  }
  throw new UsageError(
    `"${arn}" is not an IAM role or user ARN`,
    "Expected arn:aws:iam::<12-digit account>:role/<name> (or :user/<name>).",
  );
}

/** The IAM entity an ARN stands for: two ARNs of one role (with or without its path, or a session of it) are one principal. */
function principalIdentity(arn: string): string {
  const match = principalPattern.exec(arn);
  if (match) return `${match[1]}:${match[3]}:${match[4]}:${match[5]}`;
  const session = sessionPattern.exec(arn);
  if (session) return `${session[1]}:${session[3]}:role:${session[4]}`;
  return arn;
}

const samePrincipal = (a: string, b: string) =>
  a === b || principalIdentity(a) === principalIdentity(b) || principalMatches(a, b) || principalMatches(b, a);

const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** An absolute https URL (http only for a loopback host: a local stack's receiver). */
export function checkWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      `"${raw}" is not a URL`,
      "Give the business system's webhook as an absolute URL, e.g. https://shop.example.com/payment-events",
    );
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopbackHosts.has(url.hostname))) {
    throw new UsageError(
      `webhook URL ${raw} must use https (http only for 127.0.0.1 / localhost)`,
      "Events carry payment data: they go over TLS.",
    );
  }
  if (url.username || url.password)
    throw new UsageError("the webhook URL must not hold credentials (events are authenticated by their signature)");
  if (url.hash) throw new UsageError("the webhook URL must not have a #fragment");
  if (raw.length > 2048) throw new UsageError("the webhook URL is longer than 2048 characters");
  return url.toString();
}

function checkExpiry(seconds: number | undefined): number | undefined {
  if (seconds === undefined) return undefined;
  if (!Number.isInteger(seconds) || seconds < 120 || seconds > 1_296_000) {
    throw new UsageError(`--payment-expiry-seconds must be an integer from 120 to 1296000, not ${seconds}`);
  }
  return seconds;
}

// --- reports (never a secret value) ---

export interface BusinessReport {
  businessId: string;
  status: BusinessSystem["status"];
  principals: string[];
  webhookUrl: string;
  paymentExpirySeconds: number;
  /** Where the signing secret is (not the secret). */
  webhookSecretRef: string;
  rotation:
    | { overlapActive: false; previousWebhookSecretRef?: string; previousSecretUntil?: string }
    | { overlapActive: true; previousWebhookSecretRef: string; previousSecretUntil: string };
  createdAt: string;
  updatedAt: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function businessReport(system: BusinessSystem, now = Date.now()): BusinessReport {
  const previous = system.previousWebhookSecretRef;
  const until = system.previousSecretUntil;
  return {
    businessId: system.businessId,
    status: system.status,
    principals: [...system.principals],
    webhookUrl: system.webhookUrl,
    paymentExpirySeconds: system.paymentExpirySeconds,
    webhookSecretRef: system.webhookSecretRef,
    rotation:
      previous && until !== undefined && until > now
        ? { overlapActive: true, previousWebhookSecretRef: previous, previousSecretUntil: iso(until) }
        : {
            overlapActive: false,
            ...(previous ? { previousWebhookSecretRef: previous } : {}),
            ...(until !== undefined ? { previousSecretUntil: iso(until) } : {}),
          },
    createdAt: iso(system.createdAt),
    updatedAt: iso(system.updatedAt),
  };
}

/** What every change reports: functions see it once their registry cache runs out. */
export interface ChangeReport {
  system: BusinessReport;
  /** BUSINESS_CACHE_SECONDS of the functions. */
  takesEffectWithinSeconds: number;
}

const cacheSeconds = async () => (await config()).businessCacheSeconds;

// --- reads ---

async function readSystem(businessId: string): Promise<BusinessSystem | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: (await config()).tableName, Key: businessKey(businessId), ConsistentRead: true }),
  );
  return Item as BusinessSystem | undefined;
}

async function requireSystem(businessId: string): Promise<BusinessSystem> {
  const system = await readSystem(businessId);
  if (!system) throw new OpsError(`no business system ${businessId}`, 1, "`npm run ops -- business list` shows the registered ones.");
  return system;
}

export async function listBusinesses({ now = Date.now() }: { now?: number } = {}): Promise<{ systems: BusinessReport[] }> {
  const systems = await listBusinessSystems({ fresh: true });
  return { systems: systems.map((system) => businessReport(system, now)).sort((a, b) => a.businessId.localeCompare(b.businessId)) };
}

export async function showBusiness(businessId: string, { now = Date.now() }: { now?: number } = {}): Promise<BusinessReport> {
  return businessReport(await requireSystem(checkBusinessId(businessId)), now);
}

/** Refuses principals that another system already has: a caller must map to one system only. */
async function checkPrincipalsFree(businessId: string, principals: string[]): Promise<void> {
  const others = (await listBusinessSystems({ fresh: true })).filter((s) => s.businessId !== businessId);
  for (const principal of principals) {
    const owner = others.find((s) => s.principals.some((p) => samePrincipal(p, principal)));
    if (owner) {
      throw new OpsError(
        `${principal} already calls for business system ${owner.businessId}`,
        1,
        `A caller must belong to one system. To move it: \`npm run ops -- business update ${owner.businessId} --remove-principal ${principal}\` first.`,
      );
    }
  }
}

// --- writes ---

export interface AddInput {
  businessId: string;
  principals: string[];
  webhookUrl: string;
  paymentExpirySeconds?: number;
  /** A business system in another AWS account: it calls through a role here that this account may assume. */
  account?: string;
}

export interface SecretReport extends ChangeReport {
  /** The new webhook secret: shown once, for the business team. */
  webhookSecret: string;
  /** With --account: the role the system calls through, and how to set it up. */
  crossAccount?: CrossAccountRole;
}

/** Where the payment center runs: the account its roles live in, its region and stage. */
export interface PaymentCenterAccount {
  accountId: string;
  region: string;
  stage: string;
}

export interface CrossAccountRole {
  callerAccount: string;
  roleName: string;
  roleArn: string;
  /** The ARN API Gateway reports for its callers (<session>: the name they give the session). */
  callerArn: string;
  /** The commands (an administrator of the payment center's account) that create the role. */
  setup: string[];
  /** What the business team configures in their account and SDK. */
  businessTeam: string[];
}

const accountPattern = /^\d{12}$/;
/** IAM role names: 64 characters at most. */
const maxRoleName = 64;

/**
 * The role a business system of another account calls through. HTTP APIs have no resource policy,
 * so API Gateway's IAM authorizer admits principals of the API's own account only: a role here,
 * assumable by the business's account, allowed to invoke the business routes.
 */
export function crossAccountRole(businessId: string, callerAccount: string, center: PaymentCenterAccount): CrossAccountRole {
  if (!accountPattern.test(callerAccount)) throw new UsageError(`--account must be a 12-digit AWS account id, not "${callerAccount}"`);
  if (callerAccount === center.accountId) {
    throw new UsageError(
      `--account ${callerAccount} is the payment center's own account`,
      "Register the caller's role directly: --principal arn:aws:iam::<account>:role/<name>.",
    );
  }
  const roleName = `${service}-${center.stage}-biz-${businessId}`;
  if (roleName.length > maxRoleName) throw new UsageError(`the role name ${roleName} is longer than IAM's ${maxRoleName} characters`);
  const roleArn = `arn:aws:iam::${center.accountId}:role/${roleName}`;
  const trust = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${callerAccount}:root` }, Action: "sts:AssumeRole" }],
  };
  const routes = `arn:aws:execute-api:${center.region}:${center.accountId}:*/*/*/v1/payments`;
  const invoke = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "execute-api:Invoke", Resource: [routes, `${routes}/*`] }],
  };
  return {
    callerAccount,
    roleName,
    roleArn,
    callerArn: `arn:aws:sts::${center.accountId}:assumed-role/${roleName}/<session>`,
    setup: [
      `aws iam create-role --role-name ${roleName} --description "Business system ${businessId} (account ${callerAccount}) calls the payment API" --assume-role-policy-document '${JSON.stringify(trust)}'`,
      `aws iam put-role-policy --role-name ${roleName} --policy-name business-api --policy-document '${JSON.stringify(invoke)}'`,
    ],
    businessTeam: [
      `allow their service's role sts:AssumeRole on ${roleArn} (an IAM policy in account ${callerAccount})`,
      `sign with that role's session: AWS SDK fromTemporaryCredentials({ params: { RoleArn: "${roleArn}", RoleSessionName: "<their service>" } }), or a profile with role_arn = ${roleArn}`,
    ],
  };
}

export async function addBusiness(
  input: AddInput,
  {
    secrets,
    now = Date.now(),
    center,
  }: {
    secrets: SecretStore;
    now?: number;
    /** Needed with input.account (where the role goes); `createRole` makes it there (a local stack), else it is printed. */
    center?: PaymentCenterAccount & { createRole?: (roleArn: string, trustedAccount: string) => void };
  },
): Promise<SecretReport> {
  const businessId = checkBusinessId(input.businessId);
  if (input.principals.length === 0 && input.account === undefined) {
    throw new UsageError("business add: --principal is required (or --account <id> for a system in another AWS account)");
  }
  if (input.account !== undefined && !center) throw new Error("business add --account: the payment center's account is not known");
  const role = input.account !== undefined && center ? crossAccountRole(businessId, input.account, center) : undefined;
  const principals = [...new Set([...input.principals, ...(role ? [role.roleArn] : [])].map(checkPrincipal))];
  const webhookUrl = checkWebhookUrl(input.webhookUrl);
  const paymentExpirySeconds = checkExpiry(input.paymentExpirySeconds) ?? defaultPaymentExpirySeconds;
  if (await readSystem(businessId)) throw alreadyRegistered(businessId);
  await checkPrincipalsFree(businessId, principals);
  const stored = await storeNewSecret(secrets, businessId, 1);
  const system: BusinessSystem = {
    ...businessKey(businessId),
    businessId,
    principals,
    webhookUrl,
    webhookSecretRef: stored.reference,
    paymentExpirySeconds,
    status: "ACTIVE",
    createdAt: now,
    updatedAt: now,
  };
  try {
    // lib's putBusinessSystem overwrites; a registration must never replace another one.
    await dynamo().send(
      new PutCommand({ TableName: (await config()).tableName, Item: system, ConditionExpression: "attribute_not_exists(pk)" }),
    );
  } catch (error) {
    if (isConditionFailure(error)) throw alreadyRegistered(businessId, stored.reference);
    throw error;
  }
  if (role) center?.createRole?.(role.roleArn, role.callerAccount);
  return {
    system: businessReport(system, now),
    webhookSecret: stored.secret,
    takesEffectWithinSeconds: await cacheSeconds(),
    ...(role ? { crossAccount: role } : {}),
  };
}

/**
 * The account, region and stage of the payment center the CLI works on: a local stack's (its roles
 * are files in its keys dir), or on AWS the caller's account (sts:GetCallerIdentity) and AWS_REGION.
 */
export async function paymentCenterAccount(
  keysDir: string | undefined,
): Promise<PaymentCenterAccount & { createRole?: (roleArn: string, trustedAccount: string) => void }> {
  const { stage } = await config();
  if (keysDir) {
    const { createLocalRole, localAccountId } = await import("../local/businessCredentials.js");
    return {
      accountId: localAccountId,
      region: process.env.AWS_REGION ?? "ap-southeast-1",
      stage,
      createRole: (roleArn, trustedAccount) => createLocalRole(keysDir, roleArn, trustedAccount),
    };
  }
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("no region", "Set AWS_REGION to the payment center's region.");
  const { STSClient, GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const identity = await new STSClient({ region, maxAttempts: 3 }).send(new GetCallerIdentityCommand({}));
  return { accountId: identity.Account!, region, stage };
}

const alreadyRegistered = (businessId: string, orphan?: string) =>
  new OpsError(
    `business system ${businessId} is already registered`,
    1,
    `\`business show ${businessId}\` shows it; \`business update\` changes it.${orphan ? ` The secret just stored at ${orphan} is not used: delete it.` : ""}`,
  );

/**
 * Writes `next` in place of `seen` only if the item still has `seen`'s updatedAt: a change made
 * meanwhile by someone else is never overwritten (the operator runs the command again).
 */
async function replaceIfUnchanged(seen: BusinessSystem, next: BusinessSystem): Promise<void> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: (await config()).tableName,
        Item: next,
        ConditionExpression: "updatedAt = :seen",
        ExpressionAttributeValues: { ":seen": seen.updatedAt },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    throw new OpsError(
      `business system ${seen.businessId} was changed (or removed) by someone else since it was read: nothing written`,
      1,
      `Look at it again (\`business show ${seen.businessId}\`) and repeat the command if it still applies.`,
    );
  }
}

/** A later updatedAt than the one seen, even within the same millisecond. */
const touched = (seen: BusinessSystem, now: number) => Math.max(now, seen.updatedAt + 1);

export interface UpdateInput {
  webhookUrl?: string;
  addPrincipals?: string[];
  removePrincipals?: string[];
  paymentExpirySeconds?: number;
}

export interface UpdateReport extends ChangeReport {
  changes: string[];
}

export interface WriteOptions {
  now?: number;
  /** Apply only if the system is still at this updatedAt (ms): a read-modify-write across calls. */
  ifUpdatedAt?: number;
}

async function systemToChange(businessId: string, ifUpdatedAt: number | undefined): Promise<BusinessSystem> {
  const system = await requireSystem(businessId);
  if (ifUpdatedAt !== undefined && system.updatedAt !== ifUpdatedAt) {
    throw new OpsError(`business system ${businessId} was changed at ${iso(system.updatedAt)}, after the version given: nothing written`);
  }
  return system;
}

export async function updateBusiness(
  businessIdArg: string,
  input: UpdateInput,
  { now = Date.now(), ifUpdatedAt }: WriteOptions = {},
): Promise<UpdateReport> {
  const businessId = checkBusinessId(businessIdArg);
  const add = [...new Set((input.addPrincipals ?? []).map(checkPrincipal))];
  const remove = [...new Set((input.removePrincipals ?? []).map(checkPrincipal))];
  const webhookUrl = input.webhookUrl === undefined ? undefined : checkWebhookUrl(input.webhookUrl);
  const paymentExpirySeconds = checkExpiry(input.paymentExpirySeconds);
  if (add.length === 0 && remove.length === 0 && webhookUrl === undefined && paymentExpirySeconds === undefined) {
    throw new UsageError(
      "business update: nothing to change",
      "Give --webhook-url, --add-principal, --remove-principal or --payment-expiry-seconds.",
    );
  }
  const both = add.filter((p) => remove.includes(p));
  if (both.length > 0) throw new UsageError(`business update: ${both.join(", ")} both added and removed`);

  const seen = await systemToChange(businessId, ifUpdatedAt);
  const changes: string[] = [];
  let principals = [...seen.principals];
  for (const principal of remove) {
    if (!principals.includes(principal))
      throw new OpsError(`${businessId} has no principal ${principal}`, 1, `Its principals: ${seen.principals.join(", ")}`);
    principals = principals.filter((p) => p !== principal);
    changes.push(`principal removed: ${principal}`);
  }
  for (const principal of add) {
    if (principals.some((p) => samePrincipal(p, principal))) throw new OpsError(`${businessId} already has principal ${principal}`);
    principals.push(principal);
    changes.push(`principal added: ${principal}`);
  }
  if (principals.length === 0) {
    throw new OpsError(
      `${businessId} would have no principal left`,
      1,
      `Add another one in the same command, or disable the system instead (\`business disable ${businessId}\`).`,
    );
  }
  if (add.length > 0) await checkPrincipalsFree(businessId, add);
  if (webhookUrl !== undefined && webhookUrl !== seen.webhookUrl) changes.push(`webhook URL: ${seen.webhookUrl} -> ${webhookUrl}`);
  if (paymentExpirySeconds !== undefined && paymentExpirySeconds !== seen.paymentExpirySeconds) {
    changes.push(`payment expiry: ${seen.paymentExpirySeconds} s -> ${paymentExpirySeconds} s (payments created from now on)`);
  }
  if (changes.length === 0) return { system: businessReport(seen, now), changes, takesEffectWithinSeconds: await cacheSeconds() };
  const next: BusinessSystem = {
    ...seen,
    principals,
    ...(webhookUrl !== undefined ? { webhookUrl } : {}),
    ...(paymentExpirySeconds !== undefined ? { paymentExpirySeconds } : {}),
    updatedAt: touched(seen, now),
  };
  await replaceIfUnchanged(seen, next);
  return { system: businessReport(next, now), changes, takesEffectWithinSeconds: await cacheSeconds() };
}

export interface StatusReport extends ChangeReport {
  /** False when it already had that status (nothing written). */
  changed: boolean;
}

export async function setBusinessStatus(
  businessIdArg: string,
  status: BusinessSystem["status"],
  { now = Date.now(), ifUpdatedAt }: WriteOptions = {},
): Promise<StatusReport> {
  const businessId = checkBusinessId(businessIdArg);
  const seen = await systemToChange(businessId, ifUpdatedAt);
  if (seen.status === status) return { system: businessReport(seen, now), changed: false, takesEffectWithinSeconds: await cacheSeconds() };
  const next: BusinessSystem = { ...seen, status, updatedAt: touched(seen, now) };
  await replaceIfUnchanged(seen, next);
  return { system: businessReport(next, now), changed: true, takesEffectWithinSeconds: await cacheSeconds() };
}

export interface RotationReport extends SecretReport {
  generation: number;
}

export async function rotateWebhookSecret(
  businessIdArg: string,
  {
    secrets,
    overlapHours = defaultOverlapHours,
    now = Date.now(),
    ifUpdatedAt,
  }: WriteOptions & { secrets: SecretStore; overlapHours?: number },
): Promise<RotationReport> {
  const businessId = checkBusinessId(businessIdArg);
  if (!(overlapHours >= 0 && overlapHours <= 720)) throw new UsageError(`--overlap-hours must be from 0 to 720, not ${overlapHours}`);
  const seen = await systemToChange(businessId, ifUpdatedAt);
  const overlapUntil =
    seen.previousWebhookSecretRef && seen.previousSecretUntil !== undefined && seen.previousSecretUntil > now
      ? seen.previousSecretUntil
      : undefined;
  if (overlapUntil !== undefined && overlapHours > 0) {
    throw new OpsError(
      `${businessId} is still in the overlap of its last rotation (until ${iso(overlapUntil)}): rotating again would stop ${seen.previousWebhookSecretRef} signing early`,
      1,
      "Wait until the overlap is over, or rotate with --overlap-hours 0 if a secret leaked (only the new one signs then).",
    );
  }
  const next =
    Math.max(secretGeneration(seen.webhookSecretRef, businessId), secretGeneration(seen.previousWebhookSecretRef, businessId)) + 1;
  const stored = await storeNewSecret(secrets, businessId, next);
  const { previousWebhookSecretRef: _previous, previousSecretUntil: _until, ...rest } = seen;
  const rotated: BusinessSystem = {
    ...rest,
    webhookSecretRef: stored.reference,
    ...(overlapHours > 0
      ? { previousWebhookSecretRef: seen.webhookSecretRef, previousSecretUntil: now + Math.round(overlapHours * 3_600_000) }
      : {}),
    updatedAt: touched(seen, now),
  };
  try {
    await replaceIfUnchanged(seen, rotated);
  } catch (error) {
    if (error instanceof OpsError)
      throw new OpsError(`${error.message}. The secret just stored at ${stored.reference} is not used: delete it.`, 1, error.hint);
    throw error;
  }
  return {
    system: businessReport(rotated, now),
    webhookSecret: stored.secret,
    generation: stored.generation,
    takesEffectWithinSeconds: await cacheSeconds(),
  };
}

/** The store for new secrets: the local stack's keys dir when it has one, else SSM of the configured stage. */
export async function secretStoreFor(keysDir: string | undefined): Promise<SecretStore> {
  return keysDir ? { kind: "file", dir: keysDir } : { kind: "ssm", stage: (await config()).stage };
}
