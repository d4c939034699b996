// A complete set of stage parameters for packaging a stage other than `local` in the tests: every
// parameter serverless.yml leaves without a default (scripts/stageParams.cjs refuses to package
// without them). Values are real-looking, never the placeholders the guard refuses (.test is a
// reserved TLD).
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
