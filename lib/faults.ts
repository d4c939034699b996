// Named points between two steps of a handler where tests and the chaos run can inject a crash
// (the process dying right there), to prove a retry or the sweep recovers. Disarmed, a point is
// one Map lookup. Armed only in local runs, through the local stack.
export class InjectedCrash extends Error {
  override name = "InjectedCrash";
}

/** `onlyFor`: crash only passes whose subject (an id) contains it, so a pass left over from another payment cannot use it up. */
type Armed = Map<string, { remaining: number; onlyFor?: string }>;
const holder = globalThis as typeof globalThis & { __alipayPayFaults?: Armed };
const armed: Armed = (holder.__alipayPayFaults ??= new Map());

/** Crash the next `times` passes through `point` (only those about `onlyFor`, when given). */
export function armFault(point: string, times = 1, onlyFor?: string): void {
  armed.set(point, { remaining: times, onlyFor });
}

export function disarmFaults(): void {
  armed.clear();
}

export function faultPoint(point: string, subject?: string): void {
  const fault = armed.get(point);
  if (!fault) return;
  if (fault.onlyFor !== undefined && !subject?.includes(fault.onlyFor)) return;
  if (fault.remaining <= 1) armed.delete(point);
  else fault.remaining -= 1;
  throw new InjectedCrash(`injected crash at ${point}`);
}
