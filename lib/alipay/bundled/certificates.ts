// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk's certificate mode (@fidm/x509,
// bignumber.js), unused by this backend, which verifies with Alipay's public key. Using it fails loudly.
const unavailable = () => {
  throw new Error("Alipay certificate mode is not in this bundle");
};
export const Certificate = { fromPEM: unavailable, fromPEMs: unavailable };
export class BigNumber {
  constructor() {
    unavailable();
  }
}
