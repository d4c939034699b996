// The ops CLI: `npm run ops -- <command>` (see `npm run ops -- --help` and RUNBOOK.md).
// This entry only parses the command line, prepares the environment and prints; the commands
// are functions in ops/*.ts that return data (the tests call them in-process).
// lib/ reads its logging settings when first imported, so it is imported (through commands.ts)
// only after the environment is ready.
import { helpText, parseArgs, type Invocation } from "./args.js";
import { explain, loadStackFile } from "./environment.js";
import { OpsError } from "./errors.js";

async function main(argv: string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseArgs(argv);
  } catch (error) {
    return fail(error instanceof OpsError ? error : new OpsError(String(error), 2), argv.includes("--json"));
  }
  if (invocation.help) {
    console.log(helpText(invocation.helpTopic));
    return 0;
  }
  try {
    const stack = invocation.local || invocation.stackFile ? loadStackFile(invocation.stackFile) : undefined;
    if (!invocation.verbose) {
      // The functions' INFO logs and metric lines are not for the operator's terminal.
      process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
      process.env.POWERTOOLS_METRICS_DISABLED = "true";
      // The SDK's notice that it will need Node 22 from 2027 (Lambda runs Node 22 already).
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    }
    const { runCommand } = await import("./commands.js");
    const apiUrl = typeof stack?.urls?.api === "string" ? stack.urls.api : undefined;
    const result = await runCommand(invocation, {
      ...(stack?.keysDir ? { keysDir: stack.keysDir } : {}),
      ...(apiUrl ? { apiUrl } : {}),
      progress: (line) => console.error(line),
    });
    console.log(invocation.json ? JSON.stringify(result.data, null, 2) : result.text);
    return result.ok ? 0 : 1;
  } catch (error) {
    if (invocation.verbose && !(error instanceof OpsError)) console.error(error);
    return fail(explain(error, { local: invocation.local }), invocation.json);
  }
}

function fail(error: OpsError, json: boolean): number {
  if (json) {
    console.log(JSON.stringify({ error: error.message, ...(error.hint ? { hint: error.hint } : {}) }, null, 2));
  } else {
    console.error(`error: ${error.message}`);
    if (error.hint) console.error(error.hint);
  }
  return error.exitCode;
}

const code = await main(process.argv.slice(2));
// Pooled HTTP connections (AWS SDK, fetch) would keep the process alive for a while.
process.exit(code);
