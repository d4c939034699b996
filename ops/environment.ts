// Where the CLI's configuration comes from: the same environment variables the functions run with
// (lib/config.ts). `--local` loads them from the file `npm start` writes; against AWS the
// operator exports them (RUNBOOK.md#tools). No lib/ imports here (see cli.ts).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OpsError } from "./errors.js";

export const defaultStackFile = fileURLToPath(new URL("../.local/stack.json", import.meta.url));

export interface StackFile {
  urls?: Record<string, unknown>;
  /** A local stack's keys dir: business webhook secrets are files there (on AWS: SSM parameters). */
  keysDir?: string;
  functionEnv: Record<string, string>;
  resources?: Record<string, { ref: string; attributes?: Record<string, string> }>;
}

/** Reads a stack file (the local stack's, or one saved from AWS) and puts its functionEnv into `env`. */
export function loadStackFile(path = defaultStackFile, env: NodeJS.ProcessEnv = process.env): StackFile {
  if (!existsSync(path)) {
    throw new OpsError(
      `no stack file at ${path}`,
      1,
      path === defaultStackFile
        ? "Start the local stack with `npm start` (it writes that file), or drop --local and export the functions' environment."
        : undefined,
    );
  }
  let parsed: StackFile;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as StackFile;
  } catch (error) {
    throw new OpsError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed.functionEnv !== "object" || parsed.functionEnv === null) {
    throw new OpsError(`${path} has no "functionEnv" object (see RUNBOOK.md#tools)`);
  }
  for (const [name, value] of Object.entries(parsed.functionEnv)) env[name] = String(value);
  return parsed;
}

/** What lib/config.ts requires of every command (the secrets are checked by the commands that use them). */
const requiredVariables = [
  "STAGE",
  "TABLE_NAME",
  "CHECK_QUEUE_URL",
  "EVENTS_QUEUE_URL",
  "ALIPAY_APP_ID",
  "ALIPAY_SELLER_ID",
  "ALIPAY_GATEWAY_URL",
  "ALIPAY_NOTIFY_URL",
  "CHECK_SCHEDULE_SECONDS",
];

/** Turns low-level failures into something an operator can act on. */
export function explain(error: unknown, { local }: { local: boolean }): OpsError {
  if (error instanceof OpsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : "";
  if (/^(Missing|Bad) configuration/.test(message) || /must be ssm:\/name or file:path/.test(message)) {
    const unset = requiredVariables.filter((variable) => !process.env[variable] && !message.endsWith(`: ${variable}`));
    return new OpsError(
      unset.length > 0 ? `${message} (also unset: ${unset.join(", ")})` : message,
      1,
      local
        ? "The local stack file is incomplete: restart `npm start`."
        : "Export the functions' environment first, or use --local against `npm start` (see RUNBOOK.md#tools).",
    );
  }
  if (name === "AlipayUnavailableError") {
    if (/differs from payment/.test(message)) {
      return new OpsError(
        `Alipay reports a payment of another amount: ${message}`,
        1,
        "Money: never mark the payment paid by hand; escalate to finance and the payments lead (RUNBOOK.md#stuck-orders).",
      );
    }
    if (/refused but the trade is not paid/.test(message)) {
      return new OpsError(
        `Alipay refused to close the attempt: ${message}`,
        1,
        "Look the trade up in the merchant console and escalate (RUNBOOK.md#stuck-orders).",
      );
    }
    return new OpsError(`Alipay could not be asked: ${message}`, 1, "Retry later; if it lasts, see RUNBOOK.md#check-dlq.");
  }
  if (name === "CredentialsProviderError" || /Could not load credentials/.test(message)) {
    return new OpsError(message, 1, "Set AWS credentials (AWS_PROFILE, or `aws sso login`) and AWS_REGION.");
  }
  if (/Region is missing/i.test(message)) return new OpsError(message, 1, "Set AWS_REGION to the stack's region.");
  if (/ECONNREFUSED|fetch failed|connect ETIMEDOUT/.test(message) || (error as { code?: string } | undefined)?.code === "ECONNREFUSED") {
    return new OpsError(message, 1, local ? "Is the local stack running (`npm start`)?" : "Check network access to AWS and the endpoints.");
  }
  if (name === "AccessDeniedException" || name === "AccessDenied" || /not authorized to perform/.test(message)) {
    return new OpsError(message, 1, "Your AWS identity lacks a permission the ops CLI needs (RUNBOOK.md#tools lists them).");
  }
  return new OpsError(`${name && name !== "Error" ? `${name}: ` : ""}${message}`);
}
