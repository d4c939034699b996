// Architecture rules, checked by `npm run lint` (dependency-cruiser):
//   functions/ are thin handlers over lib/; lib/ (the domain and its adapters) never reaches into
//   the local stack, the simulator, the ops CLI, the benchmarks, the client, scripts or tests; no cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "functions-only-lib",
      comment: "A Lambda handler imports lib/ (and packages, Node's own modules), nothing else of ours: not even a file at the root.",
      severity: "error",
      from: { path: "^functions/" },
      // Unresolvable imports have their own rule; other handlers too.
      to: { pathNot: "^(lib|functions|node_modules)/", dependencyTypesNot: ["core"], couldNotResolve: false },
    },
    {
      name: "functions-not-each-other",
      comment: "Handlers do not import other handlers.",
      severity: "error",
      from: { path: "^functions/([^/]+)" },
      to: { path: "^functions/", pathNot: "^functions/$1$" },
    },
    {
      name: "lib-stays-inside",
      comment: "lib/ is what gets deployed: it never imports the local stack, the simulator, ops, bench, client, scripts or tests.",
      severity: "error",
      from: { path: "^lib/" },
      to: { path: "^(functions|local|simulator|test|ops|bench|client|scripts)/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves (a typo is an error, not a silent external).",
      severity: "error",
      from: {},
      // aws-lambda is @types/aws-lambda: types only, nothing to resolve at run time.
      to: { couldNotResolve: true, pathNot: "^aws-lambda$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.serverless|\\.local)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".cjs", ".mjs", ".json"],
    },
  },
};
