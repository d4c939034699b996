// How serverless-esbuild bundles each function (serverless.yml custom.esbuild.config); the bench
// builds with the same options. alipay-sdk brings ~1 MB of dependencies for features this backend
// does not use (urllib's undici for HTTP, file uploads, AES payloads, its own certificate parsing,
// the OpenAPI v3 server-sent events):
// in the bundles they are swapped for the small modules in lib/alipay/bundled/. Certificate mode
// itself is supported: lib/alipay/certificates.ts computes the SNs with node:crypto's
// X509Certificate, so the SDK's @fidm/x509 / bignumber.js path is never taken.
const path = require("node:path");

const bundled = (file) => path.join(__dirname, "lib", "alipay", "bundled", file);

// Modules a package requires by relative path that never run here, swapped in the bundles:
// - yauzl (the bill's zip) uses the runtime's zlib.crc32 (Node >= 20.15; Lambda runs Node 22) and
//   requires its own 2.9 KB table-driven crc32 only as a fallback (lib/reconciliation/bundled/crc32.cjs);
// - alipay-sdk's ./form.js, its file-upload form (lib/alipay/bundled/form.ts says why).
// Keeps reconcile, the largest, under the 150 KB bundle limit.
const unusedRelativeModules = [
  {
    importer: `${path.sep}yauzl${path.sep}`,
    specifier: "./crc32",
    path: path.join(__dirname, "lib", "reconciliation", "bundled", "crc32.cjs"),
  },
  { importer: `${path.sep}alipay-sdk${path.sep}`, specifier: "./form.js", path: bundled("form.ts") },
];
const swapUnusedRelativeModules = {
  name: "swap-unused-relative-modules",
  setup(build) {
    build.onResolve({ filter: /^\.\// }, (args) => {
      const swap = unusedRelativeModules.find((m) => m.specifier === args.path && args.importer.includes(m.importer));
      return swap ? { path: swap.path } : undefined;
    });
  },
};

const options = {
  bundle: true,
  minify: true,
  sourcemap: false,
  // The bundled packages' license notices go beside each bundle (<name>.js.LEGAL.txt, packaged with
  // it) instead of at its end: kept, without weighing on the bundle the runtime parses.
  legalComments: "external",
  // The Lambda runtime's Node (serverless.yml provider.runtime nodejs22.x), which the scripts and
  // tests run on too (the `node` devDependency); test/unit/runtime.test.ts keeps the three together.
  target: "node22",
  platform: "node",
  format: "cjs",
  // ES module builds first: they tree-shake (tslib's ES build keeps only the helpers a package uses,
  // 0.2 KB instead of the CommonJS file's 11 KB).
  mainFields: ["module", "main"],
  // The Lambda Node.js runtime ships AWS SDK v3.
  external: ["@aws-sdk/*"],
  plugins: [swapUnusedRelativeModules],
  alias: {
    urllib: bundled("urllib.ts"),
    formstream: bundled("formstream.ts"),
    "crypto-js": bundled("cryptoJs.ts"),
    "@fidm/x509": bundled("certificates.ts"),
    "bignumber.js": bundled("certificates.ts"),
    "sse-decoder": bundled("sseDecoder.ts"),
    utility: bundled("utility.ts"),
  },
};

module.exports = () => options;
module.exports.options = options;
