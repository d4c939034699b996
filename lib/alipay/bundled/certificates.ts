// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk's own certificate parsing (@fidm/x509,
// bignumber.js). Certificate mode does not need it: lib/alipay/certificates.ts computes the SNs with
// node:crypto and hands the SDK the SNs and Alipay's key, never the certificates. Reaching it fails loudly.
const unavailable = () => {
  throw new Error("Alipay certificate mode is not in this bundle");
};
export const Certificate = { fromPEM: unavailable, fromPEMs: unavailable };
export class BigNumber {
  constructor() {
    unavailable();
  }
}
