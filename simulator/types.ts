// Public shapes of the simulator: options, ledger views, notification records, scenario knobs.

export type TradeStatus = "WAIT_BUYER_PAY" | "TRADE_SUCCESS" | "TRADE_FINISHED" | "TRADE_CLOSED";

export interface SimulatorApp {
  appId: string;
  /** The app's RSA2 public key (PEM or the console's bare base64): verifies requests and order strings. */
  appPublicKey: string;
  /**
   * How buyers are named to this app: "user_id" (default) sends `buyer_id` in notifications and
   * `buyer_user_id` in answers; "open_id" (apps switched to OpenID in the console, the default for new
   * apps since 2023) sends `buyer_open_id` in both instead, an opaque per-app id.
   */
  buyerIdType?: "user_id" | "open_id";
  /**
   * Certificate mode (公钥证书): the app's public-key certificate (PEM). Its key replaces
   * `appPublicKey`, and requests and order strings must carry its `app_cert_sn` and the root bundle's
   * `alipay_root_cert_sn`. Needs `certificates` in the simulator's options.
   */
  appCert?: string;
  /**
   * The charset of this app's notifications: "utf-8" (default) or "gbk" (apps whose requests Alipay
   * took as GBK): `charset=gbk`, the form body percent-encoded in GBK, signed over GBK bytes.
   */
  notifyCharset?: "utf-8" | "gbk";
  /** The merchant's `2088...` partner id, sent as `seller_id`. */
  sellerId: string;
  /** Sent as `seller_email` in notifications when set. */
  sellerEmail?: string;
  /**
   * The app-level notify URL from Alipay's console. Unused for App Pay since order strings must
   * carry their own `notify_url` (required in Alipay's parameter table); kept for compatibility.
   */
  notifyUrl?: string;
}

export interface SimulatorOptions {
  /** Default 0 (a random free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PEM (PKCS#8 or PKCS#1) the simulator signs responses and notifications with. */
  alipayPrivateKey: string;
  /**
   * Certificate mode: Alipay's public-key certificate (of `alipayPrivateKey`; its SN goes out as
   * `alipay_cert_sn` in answers to certificate-mode apps) and the root bundle (`alipay_root_cert_sn`).
   */
  certificates?: {
    alipayCert: string;
    rootCert: string;
    /** The root's certificate and key (issueCertificates' `ca`): needed to rotate Alipay's certificate (POST /sim/certificates/rotate). */
    ca?: { cert: string; key: string };
  };
  /** Merchants it knows; requests from any other app_id get `isv.invalid-app-id`. */
  apps: SimulatorApp[];
  /** Delays (ms) before each send of a notification. Default Alipay's [0, 4m, 10m, 10m, 1h, 2h, 6h, 15h]. */
  notifySchedule?: number[];
  /** Schedule delays are divided by this (600 locally, 10000 in tests). Default 1. */
  timeScale?: number;
  /** How long one notification POST may take before it counts as failed. Default 15000 ms. */
  notifyTimeoutMs?: number;
  /**
   * What counts as an acknowledgement: "exact" (default) = HTTP 200 and a body of exactly `success`;
   * "trim" also accepts surrounding whitespace (what Alipay really does is unconfirmed).
   */
  ackMatch?: "exact" | "trim";
  /**
   * Refuse requests whose `timestamp` (read as GMT+8) is further than this from now with
   * `isv.invalid-timestamp`. Default: not checked (Alipay's tolerance is unconfirmed).
   */
  maxTimestampSkewMs?: number;
  /**
   * How long after payment a trade can be refunded (set by the merchant's contract; 3 months by
   * default). A refund after it finds the trade TRADE_FINISHED and is refused.
   */
  refundableForMs?: number;
  log?: (line: string) => void;
}

export interface RefundView {
  outRequestNo: string;
  /** False when the merchant sent no `out_request_no` (it then defaults to out_trade_no). */
  explicitRequestNo: boolean;
  refundFen: number;
  refundAmount: string;
  reason?: string;
  /** `gmt_refund` as notified (GMT+8, with milliseconds). */
  gmtRefund: string;
  atMs: number;
}

export interface TradeView {
  appId: string;
  sellerId: string;
  tradeNo: string;
  outTradeNo: string;
  status: TradeStatus;
  totalFen: number;
  totalAmount: string;
  refundedFen: number;
  refundedAmount: string;
  subject: string;
  body?: string;
  passbackParams?: string;
  notifyUrl?: string;
  buyerId: string;
  buyerLogonId: string;
  /** GMT+8 `yyyy-MM-dd HH:mm:ss` times, and the same instants as epoch ms. */
  gmtCreate: string;
  gmtPayment?: string;
  gmtFinish?: string;
  gmtClose?: string;
  createdAtMs: number;
  paidAtMs?: number;
  finishedAtMs?: number;
  closedAtMs?: number;
  closedReason?: "merchant-close" | "timeout" | "full-refund";
  /** When an unpaid trade closes by itself (time_expire / timeout_express). */
  expiresAtMs?: number;
  refunds: RefundView[];
}

export interface OrderEvent {
  kind: "cancel" | "close-request" | "refund-request";
  appId: string;
  outTradeNo: string;
  atMs: number;
  /** For refund requests (alipay.trade.refund, every one, repeats too): the out_request_no asked for. */
  outRequestNo?: string;
  /** For close requests: whether a trade existed then, and what the gateway answered. */
  tradeExisted?: boolean;
  outcome?: string;
}

export type NotificationKind = "payment" | "finish" | "refund" | "close" | "timeout-close" | "forged";

export interface NotificationAttempt {
  notifyId: string;
  appId: string;
  outTradeNo: string;
  tradeStatus: string;
  kind: NotificationKind;
  /** 1-based position in the retry schedule. */
  attempt: number;
  /** 0 for the original send, 1..n for the `duplicate` scenario's concurrent copies. */
  copy: number;
  url: string;
  sentAtMs: number;
  sentAt: string;
  durationMs: number;
  /** Null when dropped or when no HTTP answer came (connection error, timeout). */
  httpStatus: number | null;
  responseBody: string | null;
  acknowledged: boolean;
  /** The `dropFirst` scenario lost this attempt: nothing reached the receiver. */
  dropped: boolean;
  error?: string;
  /** The forge mode for forged notifications. */
  forged?: ForgeMode;
  /** Exactly the form fields sent (decoded). */
  params: Record<string, string>;
}

export interface NotificationState {
  notifyId: string;
  appId: string;
  outTradeNo: string;
  tradeStatus: string;
  kind: NotificationKind;
  url: string;
  state: "held" | "scheduled" | "sending" | "acknowledged" | "gave-up" | "cancelled";
  attempts: number;
  createdAtMs: number;
  nextAttemptAtMs?: number;
}

export interface ScenarioInput {
  /** Omit for every order. */
  outTradeNo?: string;
  /** Lose the first n send attempts of each notification (they still use up schedule slots). */
  dropFirst?: number;
  /** Send each attempt n extra times, concurrently. */
  duplicate?: number;
  /** Extra delay (ms, not scaled) before the first send of each notification. */
  delayMs?: number;
  /** Hold a trade's first notification and send it right after the trade's next one. */
  reorder?: boolean;
  /**
   * Refunds are accepted but only settle this many ms later (not scaled): until then the refund
   * answers `fund_change: "N"` and the refund query has no `refund_status`.
   */
  refundSettleMs?: number;
  /** A close of an out_trade_no with no trade yet makes that order string unpayable. Default false. */
  closeBlocksPayment?: boolean;
  /**
   * The shape of alipay.trade.fastpay.refund.query answers. "current" (default): a settled refund
   * carries `refund_status: REFUND_SUCCESS`. "legacy" (Alipay's answers of 2016-2020, still met in
   * the wild): a settled refund carries `out_request_no`, `out_trade_no`, `refund_amount`,
   * `total_amount`, `trade_no` and no `refund_status`; an unknown (or unsettled) number answers
   * `{"code":"10000","msg":"Success"}` alone (../shared/fixtures/alipay-responses/refund-answers.json).
   */
  refundQueryShape?: RefundQueryShape;
  /**
   * Refuse new refunds (40004) with this sub_code while set, e.g. "ACQ.SELLER_BALANCE_NOT_ENOUGH"
   * (the merchant's balance is short: clearing it with "" is the top-up, after which the same
   * request succeeds). A repeat of a number already refunded still answers fund_change N.
   */
  refundRefusal?: string;
}

export type RefundQueryShape = "current" | "legacy";

export interface Scenario {
  dropFirst: number;
  duplicate: number;
  delayMs: number;
  reorder: boolean;
  closeBlocksPayment: boolean;
  refundSettleMs: number;
  refundQueryShape: RefundQueryShape;
  refundRefusal: string;
}

/**
 * `unsigned-system-error`: 20000 aop.ACQ.SYSTEM_ERROR without a signature, as Alipay answers when
 * something fails before its signing step (the others are signed). `slow`: carried out and answered
 * as usual, `delayMs` late (a gateway slower than the client's timeout looks like `timeout` after
 * processing).
 */
export type FaultMode = "5xx" | "timeout" | "slow" | "rate-limit" | "unknown-error" | "system-error" | "unsigned-system-error";

export interface FaultInput {
  /** Gateway method to match (any when omitted). */
  method?: string;
  /** biz_content out_trade_no to match (any when omitted). */
  outTradeNo?: string;
  mode: FaultMode;
  /** How many matching requests fail. */
  count: number;
  /** Carry the request out first, then fail the answer (the "result unknown" case). Default false. */
  afterProcessing?: boolean;
  /** `slow`: the request is carried out when it arrives and answered as usual, delayMs (1..120000) later. */
  delayMs?: number;
}

/** `valid-rsa1`: correctly signed with Alipay's key, but `sign_type=RSA` (SHA1withRSA), which merchants must refuse. */
export type ForgeMode = "bad-signature" | "other-key" | "tampered-amount" | "valid" | "valid-rsa1";

export interface ForgeInput {
  url: string;
  outTradeNo: string;
  mode: ForgeMode;
  appId?: string;
  /** Notification fields to set (before signing; `tampered-amount` then changes the amounts after). */
  overrides?: Record<string, string>;
}

export interface PayResult {
  appId: string;
  tradeNo: string;
  outTradeNo: string;
  totalAmount: string;
  buyerId: string;
  status: TradeStatus;
}
