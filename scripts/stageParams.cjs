// A stage's parameters as osls resolves `${param:name}`: `--param="name=value"` on the command line
// first, then serverless.yml `params.<stage>`, then `params.default`. Shared by the deploy guard
// (scripts/requiredParamsPlugin.cjs, run by `serverless package` and `serverless deploy`) and the ops
// CLI's `preflight`, so both judge the same values. Plain CommonJS: osls loads it as a plugin.
"use strict";

const { readFileSync } = require("node:fs");
const { resolve } = require("node:path");

/** The stage whose values need no checking: `npm start` and the tests (local/). */
const localStage = "local";

/**
 * Values that only stand in for a real one: the example ids and domains the defaults used to carry
 * (app id 2021000000000000, seller 2088000000000000, *.example.com, @example.com). Matched on every
 * parameter whatever its name, so a parameter added later with such a default is caught too.
 */
const placeholderPatterns = [/^20(21|88)0{12}$/, /(^|[@./])example\.(com|org|net)\b/i];

function isPlaceholder(value) {
  return typeof value === "string" && placeholderPatterns.some((pattern) => pattern.test(value.trim()));
}

/** `--param` CLI values ("name=value", as osls parses them) as a name -> value map. */
function cliParams(params) {
  const result = {};
  for (const item of [params ?? []].flat()) {
    const match = /^(?<key>[^=]+)=(?<value>.+)$/.exec(String(item));
    if (match?.groups) result[match.groups.key] = match.groups.value.trimEnd();
  }
  return result;
}

/** name -> { value, from } for every parameter the stage has a value for. */
function stageParams(config, stage, cli = {}) {
  const params = config.params ?? {};
  const result = {};
  for (const [from, values] of [
    ["default", params.default],
    [`params.${stage}`, params[stage]],
    ["--param", cli],
  ]) {
    for (const [name, value] of Object.entries(values ?? {})) {
      if (value !== null && value !== undefined) result[name] = { value, from };
    }
  }
  return result;
}

/**
 * Names of the parameters the configuration uses without an inline fallback (`${param:name}`, not
 * `${param:name, 'x'}`), in serverless.yml and the files it includes (`${file(infra/x.yml)}`).
 */
function referencedParams(serviceDir, configText) {
  const names = new Set();
  const seen = new Set();
  const scan = (text) => {
    for (const match of text.matchAll(/\$\{param:([A-Za-z0-9_-]+)\s*\}/g)) names.add(match[1]);
    for (const match of text.matchAll(/\$\{file\(([^)]+)\)/g)) {
      const path = resolve(serviceDir, match[1].trim());
      if (seen.has(path)) continue;
      seen.add(path);
      scan(readFileSync(path, "utf8"));
    }
  };
  scan(configText);
  return [...names].sort();
}

/**
 * What keeps the stage from deploying: every parameter the configuration uses that has no value
 * (missing) or only a placeholder. None for the local stage.
 */
function stageProblems({ serviceDir, configText, config, stage, cli = {} }) {
  if (stage === localStage) return [];
  const values = stageParams(config, stage, cli);
  const problems = [];
  for (const name of referencedParams(serviceDir, configText)) {
    const given = values[name];
    if (!given) problems.push({ name, problem: "missing" });
    else if (isPlaceholder(given.value)) problems.push({ name, problem: "placeholder", value: String(given.value), from: given.from });
  }
  return problems;
}

/** The one message listing all of them, with how to give each. */
function problemsMessage(stage, problems) {
  const lines = problems.map((p) =>
    p.problem === "missing" ? `  - ${p.name}: no value` : `  - ${p.name}: "${p.value}" (${p.from}) is a placeholder`,
  );
  return [
    `Stage "${stage}" is not fully configured; ${problems.length} parameter(s) need a real value:`,
    ...lines,
    `Give each with --param="<name>=<value>", or under params.${stage} in serverless.yml (a secret or per-account value as \${ssm:/alipay-pay/${stage}/<name>}).`,
    `Then check the account: npm run ops -- preflight --stage ${stage} (README.md "Deploying").`,
  ].join("\n");
}

module.exports = { localStage, isPlaceholder, cliParams, stageParams, referencedParams, stageProblems, problemsMessage };
