import type { StackOptions } from "../../local/stack.js";

// Times compressed so a chaos run settles in minutes: orders live 6 s, Alipay's 25 h notification
// schedule lasts about 18 s, checks run 1-5 s after creation, SQS retries back off from 0.5 s.
export const chaosStackOptions: StackOptions = {
  notifyTimeScale: 5000,
  scheduleIntervalMs: 500,
  env: {
    LOCAL_ORDER_TTL_SECONDS: "6",
    LOCAL_CHECK_SCHEDULE_SECONDS: "1,2,3,5",
    LOCAL_CLOSE_MARGIN_SECONDS: "1",
    LOCAL_SWEEP_LEASE_SECONDS: "3",
    LOCAL_RETRY_BASE_SECONDS: "0.5",
    LOCAL_LOG_LEVEL: "CRITICAL",
  },
};
