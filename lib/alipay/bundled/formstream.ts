// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk's file uploads, unused by this
// backend. The class exists because alipay-sdk extends it when it loads; using it fails loudly.
export default class FormStream {
  constructor() {
    throw new Error("file upload (formstream) is not in this bundle");
  }
}
