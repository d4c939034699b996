import type { StackOptions } from "../../local/stack.js";

// Times compressed so a chaos run settles in minutes: an order string (attempt) is payable 6 s,
// Alipay's 25 h notification schedule lasts about 18 s, checks run 1-5 s after an attempt is made,
// SQS retries back off from 0.5 s. A payment's own expiry (the sample systems' default) cannot be
// compressed as far: the app API hands out no order string in a payment's last minute
// (lib/payments/attempts.ts minRemainingPayableMs), so payments live 72 s and the app has the
// first 12 s to get its order strings; an unpaid payment expires 72 s after it was created.
export const chaosPaymentExpirySeconds = 72;

export const chaosStackOptions: StackOptions = {
  notifyTimeScale: 5000,
  scheduleIntervalMs: 500,
  env: {
    LOCAL_ORDER_TTL_SECONDS: "6",
    LOCAL_PAYMENT_EXPIRY_SECONDS: String(chaosPaymentExpirySeconds),
    LOCAL_CHECK_SCHEDULE_SECONDS: "1,2,3,5",
    LOCAL_CLOSE_MARGIN_SECONDS: "1",
    LOCAL_SWEEP_LEASE_SECONDS: "3",
    LOCAL_RETRY_BASE_SECONDS: "0.5",
    LOCAL_LOG_LEVEL: "CRITICAL",
  },
};
