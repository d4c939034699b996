// How serverless-esbuild bundles each function (serverless.yml custom.esbuild.config); the bench
// builds with the same options. alipay-sdk brings ~1 MB of dependencies for features this backend
// does not use (urllib's undici for HTTP, file uploads, AES payloads, its own certificate parsing,
// the OpenAPI v3 server-sent events):
// in the bundles they are swapped for the small modules in lib/alipay/bundled/. Certificate mode
// itself is supported: lib/alipay/certificates.ts computes the SNs with node:crypto's
// X509Certificate, so the SDK's @fidm/x509 / bignumber.js path is never taken.
const path = require("node:path");

const bundled = (file) => path.join(__dirname, "lib", "alipay", "bundled", file);

const options = {
  bundle: true,
  minify: true,
  sourcemap: false,
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
  alias: {
    urllib: bundled("urllib.ts"),
    formstream: bundled("formstream.ts"),
    "crypto-js": bundled("cryptoJs.ts"),
    "@fidm/x509": bundled("certificates.ts"),
    "bignumber.js": bundled("certificates.ts"),
    "sse-decoder": bundled("sseDecoder.ts"),
  },
};

module.exports = () => options;
module.exports.options = options;
