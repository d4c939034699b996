// A complete set of stage parameters for packaging a stage other than `local` in the tests: every
// parameter serverless.yml leaves without a default (scripts/stageParams.cjs refuses to package
// without them). Values are real-looking, never the placeholders the guard refuses (.test is a
// reserved TLD).
import { pathToFileURL } from "node:url";

export const deployableParams: Record<string, string> = {
  alipayAppId: "2021004100000001",
  alipaySellerId: "2088102100000001",
  alipayNotifyUrl: "https://pay.ci.test/alipay/notify",
  jwtIssuerUrl: "https://auth.ci.test/",
  jwtAudience: "alipay-pay",
  deploymentPrefix: "ci",
  peakPaymentsPerSecond: "50",
  alipayQueryRatePerSecond: "100",
  pageEmail: "payments-oncall@ci.test",
  pagerHttpsEndpoint: "https://pager.ci.test/integration/enqueue",
  ticketEmail: "payments-tickets@ci.test",
};

/** `--param="name=value"` options for `serverless package`, `overrides` replacing or adding values. */
export function paramOptions(overrides: Record<string, string> = {}): string[] {
  return Object.entries({ ...deployableParams, ...overrides }).map(([name, value]) => `--param=${name}=${value}`);
}

/**
 * A production-like stage (`--stage prod`): every parameter without a default, as an operator would
 * give them (prefix `prod`, the notify URL on the company's own domain, all three alarm recipients).
 * Real-looking, never real (.test is a reserved TLD); no `prod` block in serverless.yml holds them.
 */
export const productionParams: Record<string, string> = {
  alipayAppId: "2021004100000002",
  alipaySellerId: "2088102100000002",
  alipayNotifyUrl: "https://pay.shop.test/alipay/notify",
  jwtIssuerUrl: "https://auth.shop.test/",
  jwtAudience: "alipay-pay",
  deploymentPrefix: "prod",
  // Sized for the sale day the capacity table of bench/README.md is about.
  peakPaymentsPerSecond: "5000",
  alipayQueryRatePerSecond: "20000",
  pageEmail: "payments-oncall@shop.test",
  pagerHttpsEndpoint: "https://events.pager.test/integration/0123456789abcdef/enqueue",
  ticketEmail: "payments-team@shop.test",
};

/** The hardened variants of a production stage: secrets under a customer-managed KMS key, and certificate mode (公钥证书). */
export const customerManagedKeyParams = {
  secretsKmsKeyArn: "arn:aws:kms:ap-southeast-1:111122223333:key/0b6e5c2a-1111-2222-3333-444455556666",
};
export const certificateModeParams = {
  alipayAppCert: "ssm:/alipay-pay/prod/alipay-app-cert",
  alipayPublicCert: "ssm:/alipay-pay/prod/alipay-public-cert",
  alipayRootCert: "ssm:/alipay-pay/prod/alipay-root-cert",
};

/** `--param="name=value"` options of the production-like stage, `overrides` replacing or adding values. */
export function productionParamOptions(overrides: Record<string, string> = {}): string[] {
  return Object.entries({ ...productionParams, ...overrides }).map(([name, value]) => `--param=${name}=${value}`);
}

// `tsx test/integration/stageParams.ts production`: the production-like options, one a line, for
// .ci/run's `npm run package -- --stage prod ...`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] !== "production") throw new Error("usage: tsx test/integration/stageParams.ts production");
  process.stdout.write(`${productionParamOptions().join("\n")}\n`);
}
