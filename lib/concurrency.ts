// Bounded concurrency for the workers that fan out many DynamoDB or Alipay calls (the sweep's
// claims, the reconciliation's resolutions).

/** At most `limit` tasks at once, the rest wait their turn in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiting one.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/** `work` on every item, at most `limit` at a time, started in order. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const slots = new Semaphore(limit);
  await Promise.all(items.map((item) => slots.run(() => work(item))));
}
