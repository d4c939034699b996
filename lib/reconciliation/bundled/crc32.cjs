// In the Lambda bundles only (esbuild.config.cjs): yauzl requires its own table-driven crc32 as a
// fallback for runtimes without zlib.crc32. Lambda's Node 22 has it, so the fallback is the runtime's.
module.exports = require("node:zlib").crc32;
