// Throwaway AWS credentials for the sample business systems, standing in for the IAM roles the
// business systems assume in AWS to call the business API (aws_iam routes, SigV4). The emulated
// API Gateway (local/httpApi.ts) verifies signatures made with them; the business client
// (client/) signs with them under `--local`. Generated into the keys dir like the other local keys.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { IamPrincipal } from "./httpApi.js";

export interface BusinessCredential {
  /** AKIA + 16 characters, like an IAM access key id. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The role the business system's callers assume: arn:aws:iam::000000000000:role/<system>-payments-caller */
  roleArn: string;
  /** The role session name, the last part of the caller's assumed-role ARN. */
  sessionName: string;
}

/** Per business system id. */
export type BusinessCredentials = Record<string, BusinessCredential>;

export const businessCredentialsFileName = "business-credentials.json";
export const defaultBusinessSystems = ["shop", "membership"];
export const localAccountId = "000000000000";

/** IAM role names allow [\w+=,.@-] (64 at most); "-payments-caller" takes 16 of them. */
const systemPattern = /^[A-Za-z0-9+=,.@_-]{1,48}$/;

/**
 * Reads `<keysDir>/business-credentials.json`, creating it (mode 0600) on first use and appending
 * credentials for systems it does not have yet. Existing credentials are never changed.
 */
export function ensureBusinessCredentials(keysDir: string, systems: string[] = defaultBusinessSystems): BusinessCredentials {
  for (const system of systems) {
    if (!systemPattern.test(system)) throw new Error(`business system id ${JSON.stringify(system)}: use 1-48 of A-Z a-z 0-9 + = , . @ _ -`);
  }
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const file = join(keysDir, businessCredentialsFileName);
  const existing: BusinessCredentials = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as BusinessCredentials) : {};
  const missing = systems.filter((system) => !existing[system]);
  if (missing.length === 0 && existsSync(file)) return existing;
  const all: BusinessCredentials = { ...existing };
  for (const system of missing) all[system] = generateCredential(system);
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  return all;
}

/** What the emulated API Gateway looks access keys up in. */
export function principalsByAccessKey(credentials: BusinessCredentials): Map<string, IamPrincipal> {
  return new Map(
    Object.values(credentials).map((c) => [
      c.accessKeyId,
      { secretAccessKey: c.secretAccessKey, roleArn: c.roleArn, sessionName: c.sessionName },
    ]),
  );
}

// --- Cross-account callers: a role in our account that another account may assume ----------------
// HTTP APIs have no resource policy, so API Gateway's IAM authorizer lets in only principals of the
// API's own account. A business system running in another account calls through a role in ours that
// its account may assume (ops: `business add --account <id>`); API Gateway then reports the caller as
// that role's session, arn:aws:sts::<our account>:assumed-role/<role>/<session>. Locally the role
// (its trusted account) and the sessions started from it are files in the keys dir, and the IAM
// authorizer finds sessions started after the stack did.

export const rolesFileName = "business-roles.json";
export const sessionsFileName = "business-sessions.json";

/** Role ARN -> the account allowed to assume it (its trust policy). */
type Roles = Record<string, { trustedAccount: string }>;
/** Access key id -> the session's credentials and role. */
type Sessions = Record<string, IamPrincipal & { sessionToken: string }>;

const readJson = <T>(file: string): T => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as T) : ({} as T));

/** Creates (or updates) the local role `roleArn`, assumable by `trustedAccount` (what `aws iam create-role` does in AWS). */
export function createLocalRole(keysDir: string, roleArn: string, trustedAccount: string): void {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const file = join(keysDir, rolesFileName);
  const roles = { ...readJson<Roles>(file), [roleArn]: { trustedAccount } };
  writeFileSync(file, `${JSON.stringify(roles, null, 2)}\n`, { mode: 0o600 });
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/**
 * sts:AssumeRole by a principal of `callerAccount`: temporary credentials (ASIA..., with a session
 * token) of a session of `roleArn` named `sessionName`, if the role trusts that account.
 */
export function assumeLocalRole(
  keysDir: string,
  { roleArn, sessionName, callerAccount }: { roleArn: string; sessionName: string; callerAccount: string },
): TemporaryCredentials {
  const role = readJson<Roles>(join(keysDir, rolesFileName))[roleArn];
  if (!role) throw new Error(`NoSuchEntity: the role ${roleArn} does not exist`);
  if (role.trustedAccount !== callerAccount) {
    throw new Error(`AccessDenied: account ${callerAccount} is not authorized to perform sts:AssumeRole on ${roleArn}`);
  }
  // Role session names: 2-64 of [\w+=,.@-] (sts:AssumeRole).
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new Error(`ValidationError: role session name ${JSON.stringify(sessionName)}`);
  const credentials: TemporaryCredentials = {
    accessKeyId: `ASIA${randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`,
    secretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
    sessionToken: randomString(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
  };
  const file = join(keysDir, sessionsFileName);
  const sessions = {
    ...readJson<Sessions>(file),
    [credentials.accessKeyId]: {
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      roleArn,
      sessionName,
    },
  };
  writeFileSync(file, `${JSON.stringify(sessions, null, 2)}\n`, { mode: 0o600 });
  return credentials;
}

/** The IAM authorizer's lookup: the sample systems' fixed credentials, then the sessions file (read on a miss). */
export function principalsWithSessions(
  keysDir: string,
  fixed: ReadonlyMap<string, IamPrincipal>,
): { get(accessKeyId: string): IamPrincipal | undefined } {
  return {
    get: (accessKeyId) => fixed.get(accessKeyId) ?? readJson<Sessions>(join(keysDir, sessionsFileName))[accessKeyId],
  };
}

function generateCredential(system: string): BusinessCredential {
  return {
    accessKeyId: `AKIA${randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`,
    secretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
    roleArn: `arn:aws:iam::${localAccountId}:role/${system}-payments-caller`,
    sessionName: `${system}-local`,
  };
}

function randomString(length: number, alphabet: string): string {
  // 256 is a multiple of both alphabets' sizes (32, 64): no modulo bias.
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}
