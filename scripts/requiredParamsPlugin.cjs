// osls plugin (serverless.yml `plugins`): `serverless package` and `serverless deploy` of any stage
// but `local` stop before anything is built or sent to AWS when a parameter the configuration uses
// has no value or only a placeholder, with one message listing all of them (scripts/stageParams.cjs).
// It runs when the plugin is constructed, which osls does before it resolves `${param:...}`: so the
// operator reads this list instead of osls's first unresolved variable.
"use strict";

const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { cliParams, stageProblems, problemsMessage } = require("./stageParams.cjs");

/** Commands that build or ship the template (deploy, deploy function, package). */
const guardedCommands = new Set(["package", "deploy"]);

class RequiredParamsPlugin {
  constructor(serverless, options) {
    const commands = serverless.processedInput?.commands ?? [];
    if (!guardedCommands.has(commands[0])) return;
    const providerStage = serverless.configurationInput?.provider?.stage;
    const stage = String(options?.stage ?? (typeof providerStage === "string" && !providerStage.includes("${") ? providerStage : "dev"));
    const serviceDir = serverless.serviceDir ?? process.cwd();
    const configFile = serverless.configurationFilename ?? "serverless.yml";
    const problems = stageProblems({
      serviceDir,
      configText: readFileSync(join(serviceDir, configFile), "utf8"),
      config: serverless.configurationInput ?? {},
      stage,
      cli: cliParams(options?.param),
    });
    if (problems.length) throw new serverless.classes.Error(problemsMessage(stage, problems), "STAGE_PARAMS_MISSING");
  }
}

module.exports = RequiredParamsPlugin;
