// The sample business systems of the local stack (`shop` and `membership`): each gets its own
// receiver, its own webhook secret (a file in the keys dir, the local stand-in for SSM) and its
// callers' role from business-credentials.json, registered the way ops register real ones.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BusinessSystem, businessKey, businessSystem, putBusinessSystem } from "../lib/business/registry.js";
import type { BusinessCredentials } from "./businessCredentials.js";

export const webhookSecretFile = (keysDir: string, businessId: string) => join(keysDir, `webhook-${businessId}.txt`);

/** The system's webhook secret file, created on first use. */
export function ensureWebhookSecret(keysDir: string, businessId: string): string {
  const file = webhookSecretFile(keysDir, businessId);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

/**
 * The file of the secret the registry names for the system now. Its receiver verifies with it, as
 * a business team installs the secret ops hand over: `business rotate-secret` writes a new file.
 */
export async function registeredWebhookSecretFile(keysDir: string, businessId: string): Promise<string> {
  const reference = (await businessSystem(businessId))?.webhookSecretRef;
  return reference?.startsWith("file:") ? reference.slice("file:".length) : webhookSecretFile(keysDir, businessId);
}

export async function registerLocalBusinessSystems(options: {
  keysDir: string;
  credentials: BusinessCredentials;
  webhookUrls: Record<string, string>;
  paymentExpirySeconds: number;
}): Promise<BusinessSystem[]> {
  const now = Date.now();
  const systems = Object.entries(options.webhookUrls).map(([businessId, webhookUrl]): BusinessSystem => {
    const credential = options.credentials[businessId];
    if (!credential) throw new Error(`no local credentials for business system ${businessId}`);
    ensureWebhookSecret(options.keysDir, businessId);
    return {
      ...businessKey(businessId),
      businessId,
      principals: [credential.roleArn],
      webhookUrl,
      webhookSecretRef: `file:${webhookSecretFile(options.keysDir, businessId)}`,
      paymentExpirySeconds: options.paymentExpirySeconds,
      status: "ACTIVE",
      createdAt: now,
      updatedAt: now,
    };
  });
  for (const system of systems) await putBusinessSystem(system);
  return systems;
}
