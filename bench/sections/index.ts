// The benchmark sections, in the order bench/run.ts runs them. Bundles last: they are built from
// the working tree as it is when the section starts (its table says when, and at which commit).
export const sections = {
  lifecycle: { title: "DynamoDB per paid payment", run: () => import("./lifecycle.js").then((m) => m.run()) },
  sweep: { title: "Sweep cost with settled payments", run: () => import("./sweep.js").then((m) => m.run()) },
  handlers: { title: "Handler throughput in-process", run: () => import("./handlers.js").then((m) => m.run()) },
  load: { title: "HTTP load with autocannon", run: () => import("./load.js").then((m) => m.run()) },
  crypto: { title: "RSA2 sign and verify", run: () => import("./crypto.js").then((m) => m.run()) },
  reconciliation: { title: "Reconciliation of a 1,000,000-row bill", run: () => import("./reconciliation.js").then((m) => m.run()) },
  refunds: { title: "Refund dispatch: request -> Alipay", run: () => import("./refunds.js").then((m) => m.run()) },
  bundles: { title: "Bundle size and cold init", run: () => import("./bundles.js").then((m) => m.run()) },
} as const;

export type SectionName = keyof typeof sections;
