// Registered business systems: who may call the business API for which system, where its events
// go and how they are signed. Ops add, update and disable them (ops CLI) without a redeploy; the
// functions read the registry (one small Query) and keep it for BUSINESS_CACHE_SECONDS.
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.js";
import { config } from "../config.js";

export interface BusinessSystem {
  pk: "BUSINESS";
  /** The business id, e.g. `shop`. */
  sk: string;
  businessId: string;
  /** IAM role (or user) ARNs allowed to call for this system. */
  principals: string[];
  webhookUrl: string;
  /** `ssm:/name` or `file:path` of the secret that signs its events. */
  webhookSecretRef: string;
  /** During a rotation, the previous secret also signs until `previousSecretUntil` (ms). */
  previousWebhookSecretRef?: string;
  previousSecretUntil?: number;
  /** How long a payment stays payable when the create request does not say. */
  paymentExpirySeconds: number;
  status: "ACTIVE" | "DISABLED";
  createdAt: number;
  updatedAt: number;
}

export const businessIdPattern = /^[a-z][a-z0-9-]{1,31}$/;
export const businessKey = (businessId: string) => ({ pk: "BUSINESS" as const, sk: businessId });

let cached: { at: number; systems: Promise<BusinessSystem[]> } | undefined;

export async function listBusinessSystems({ fresh = false }: { fresh?: boolean } = {}): Promise<BusinessSystem[]> {
  const settings = await config();
  const now = Date.now();
  if (fresh || !cached || now - cached.at >= settings.businessCacheSeconds * 1000) {
    const systems = readAll(settings.tableName);
    cached = { at: now, systems };
    systems.catch(() => {
      if (cached?.systems === systems) cached = undefined;
    });
  }
  return cached.systems;
}

async function readAll(TableName: string): Promise<BusinessSystem[]> {
  const systems: BusinessSystem[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": "BUSINESS" },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    systems.push(...((page.Items ?? []) as BusinessSystem[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return systems;
}

export async function businessSystem(businessId: string, options?: { fresh?: boolean }): Promise<BusinessSystem | undefined> {
  return (await listBusinessSystems(options)).find((s) => s.businessId === businessId);
}

/**
 * The registered role a caller's ARN stands for. API Gateway reports an assumed role's session
 * (arn:aws:sts::<account>:assumed-role/<role>/<session>); the registry names the role
 * (arn:aws:iam::<account>:role[/path]/<role>).
 */
export function principalMatches(callerArn: string, registered: string): boolean {
  if (callerArn === registered) return true;
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(callerArn);
  const role = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(registered);
  return !!session && !!role && session[1] === role[1] && session[2] === role[2] && session[3] === role[3];
}

/**
 * The active business system the caller belongs to. A role registered for two systems belongs to
 * neither: guessing would hand one system's calls to another (the ops CLI refuses such a change).
 */
export async function businessForCaller(callerArn: string): Promise<BusinessSystem | "ambiguous" | undefined> {
  const systems = await listBusinessSystems();
  const matching = systems.filter((s) => s.principals.some((p) => principalMatches(callerArn, p)));
  if (matching.length > 1) return "ambiguous";
  return matching[0]?.status === "ACTIVE" ? matching[0] : undefined;
}

export async function putBusinessSystem(system: BusinessSystem): Promise<void> {
  await dynamo().send(new PutCommand({ TableName: (await config()).tableName, Item: system }));
  cached = undefined;
}
