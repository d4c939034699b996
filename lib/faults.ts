// Named points between two steps of a handler where tests and the chaos run can inject a crash
// (the process dying right there), to prove a retry or the sweep recovers. Disarmed, a point is
// one Map lookup. Armed only in local runs, through the local stack.
export class InjectedCrash extends Error {
  override name = "InjectedCrash";
}

type Armed = Map<string, number>;
const holder = globalThis as typeof globalThis & { __alipayPayFaults?: Armed };
const armed: Armed = (holder.__alipayPayFaults ??= new Map());

/** Crash the next `times` passes through `point`. */
export function armFault(point: string, times = 1): void {
  armed.set(point, times);
}

export function disarmFaults(): void {
  armed.clear();
}

export function faultPoint(point: string): void {
  const remaining = armed.get(point);
  if (!remaining) return;
  if (remaining <= 1) armed.delete(point);
  else armed.set(point, remaining - 1);
  throw new InjectedCrash(`injected crash at ${point}`);
}
