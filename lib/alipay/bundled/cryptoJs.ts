// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk's AES-encrypted payloads
// (needEncrypt), unused by this backend. alipay-sdk parses a constant IV when it loads, so parse
// works; encrypting or decrypting fails loudly.
const unavailable = () => {
  throw new Error("AES payload encryption (crypto-js) is not in this bundle");
};
const parse = (text: string) => ({ text });
export default {
  enc: { Hex: { parse }, Base64: { parse }, Utf8: { parse } },
  AES: { encrypt: unavailable, decrypt: unavailable },
};
