// Text a business system may put in a payment that once stopped every webhook (issue 17): emoji
// (astral characters the local SQS refused), the longest subject Alipay takes, every character
// class the API accepts, commas and double quotes. Shared by test/integration/isolation.test.ts
// and the chaos run (test/chaos/chaos.ts).

/** The subject's limit in UTF-16 code units (lib/api/requests.ts: AlipayText("subject", 256)). */
export const maxSubjectUnits = 256;

/** Every class of character the API accepts in free text (no control characters, '/', '=' or '&'). */
export const everyAllowedClass = [
  `ASCII !"#$%'()*+,-.:;<>?@[\\]^_\`{|}~ 09 AZ az`,
  "Latin-1 é ñ ß ¿ NBSP\u00A0",
  "中文 한국어 日本語 العربية עברית हिन्दी",
  "combining e\u0301 ZWJ\u200D ZWSP\u200B BOM\uFEFF LS\u2028 PS\u2029",
  "private use \uE000\uF8FF, \uD7FF \uFFFD",
  "astral \u{20000} \u{10FFFD} emoji ☕🍰👩🏽‍💻🇨🇳",
].join(" | ");

/** Exactly `maxSubjectUnits` UTF-16 units, emoji (2 units each) and Chinese. */
export const longestSubject = "🍰".repeat(64) + "咖".repeat(maxSubjectUnits - 128);

/** Subjects (and a body, metadata) that must all reach the business system's webhook unchanged. */
export interface PoisonPayment {
  name: string;
  subject: string;
  body?: string;
  metadata?: Record<string, string>;
}

export const poisonPayments: PoisonPayment[] = [
  { name: "emoji", subject: "Coffee ☕ and cake 🍰", body: "🎁", metadata: { "note🍰": "gift 🎁", plain: "x" } },
  { name: "longest subject", subject: longestSubject },
  { name: "every allowed character class", subject: everyAllowedClass, metadata: { [everyAllowedClass.slice(0, 40)]: everyAllowedClass } },
  { name: "commas and double quotes", subject: 'Beans, "dark", 1 kg, "quoted, comma"', body: '"a","b"' },
];
