// In the Lambda bundles only (esbuild.config.cjs): the server-sent-events decoder of alipay-sdk's
// OpenAPI v3 `sse()` streams, unused by this backend (it calls the v2 gateway). Using it fails loudly.
export const Stream = {
  fromReadableStream(): never {
    throw new Error("server-sent events (sse-decoder) are not in this bundle");
  },
};
