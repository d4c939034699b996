// In the Lambda bundles only (esbuild.config.cjs): alipay-sdk's file-upload form (its ./form.js),
// used by exec({ form }) and pageExecute, neither called by this backend. The class exists because
// alipay-sdk checks `instanceof` against it; building one fails loudly.
export class AlipayFormData {
  constructor() {
    throw new Error("file upload forms (AlipayFormData) are not in this bundle");
  }
}
