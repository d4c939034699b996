// Local simulator of Alipay's domestic v2 open-platform gateway (App Pay), indistinguishable from
// Alipay for alipay-sdk: signed gateway answers, order strings paid through a cashier, signed and
// retried notifications, refunds, and knobs for misbehaviour (faults, lost/duplicate/reordered notifications).
export { startAlipaySimulator, type AlipaySimulator } from "./server.js";
export { generateRsaKeyPair, type RsaKeyPair } from "./keys.js";
export { certPublicKey, firstCertSn, issueCertificates, rootCertSn, type IssuedCertificates } from "./certificates.js";
export { SimulatorError } from "./scenarios.js";
export { alipayNotifySchedule, notifyContentType, notifyUserAgent } from "./notifier.js";
export { signContent } from "./signing.js";
export type {
  FaultInput,
  FaultMode,
  ForgeInput,
  ForgeMode,
  NotificationAttempt,
  NotificationKind,
  NotificationState,
  OrderEvent,
  PayResult,
  RefundView,
  Scenario,
  ScenarioInput,
  SimulatorApp,
  SimulatorOptions,
  TradeStatus,
  TradeView,
} from "./types.js";
