// Knobs that make the simulated Alipay misbehave: notification scenarios and gateway faults.
import type { FaultInput, FaultMode, RefundQueryShape, Scenario, ScenarioInput } from "./types.js";

const defaults: Scenario = {
  dropFirst: 0,
  duplicate: 0,
  delayMs: 0,
  reorder: false,
  closeBlocksPayment: false,
  refundSettleMs: 0,
  refundQueryShape: "current",
  refundRefusal: "",
};

export class SimulatorError extends Error {
  override name = "SimulatorError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function count(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new SimulatorError(400, "INVALID_SCENARIO", `${field} must be a non-negative integer`);
  }
  return value;
}

function flag(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw new SimulatorError(400, "INVALID_SCENARIO", `${field} must be a boolean`);
  return value;
}

const refundQueryShapes: readonly RefundQueryShape[] = ["current", "legacy"];

function shape(value: unknown): RefundQueryShape | undefined {
  if (value === undefined) return undefined;
  if (!refundQueryShapes.includes(value as RefundQueryShape)) {
    throw new SimulatorError(400, "INVALID_SCENARIO", `refundQueryShape must be one of ${refundQueryShapes.join(", ")}`);
  }
  return value as RefundQueryShape;
}

export class ScenarioStore {
  private global: Partial<Scenario> = {};
  private readonly perOrder = new Map<string, Partial<Scenario>>();

  /** Merges into the scope's current settings (omitted knobs keep their value). */
  set(input: ScenarioInput): Scenario {
    const patch: Partial<Scenario> = {};
    const dropFirst = count(input.dropFirst, "dropFirst");
    const duplicate = count(input.duplicate, "duplicate");
    const delayMs = count(input.delayMs, "delayMs");
    const reorder = flag(input.reorder, "reorder");
    const closeBlocksPayment = flag(input.closeBlocksPayment, "closeBlocksPayment");
    const refundSettleMs = count(input.refundSettleMs, "refundSettleMs");
    const refundQueryShape = shape(input.refundQueryShape);
    if (input.refundRefusal !== undefined && (typeof input.refundRefusal !== "string" || !/^([\w.-]{1,64})?$/.test(input.refundRefusal))) {
      throw new SimulatorError(400, "INVALID_SCENARIO", 'refundRefusal must be a sub_code (or "" to clear it)');
    }
    if (dropFirst !== undefined) patch.dropFirst = dropFirst;
    if (duplicate !== undefined) patch.duplicate = duplicate;
    if (delayMs !== undefined) patch.delayMs = delayMs;
    if (reorder !== undefined) patch.reorder = reorder;
    if (closeBlocksPayment !== undefined) patch.closeBlocksPayment = closeBlocksPayment;
    if (refundSettleMs !== undefined) patch.refundSettleMs = refundSettleMs;
    if (refundQueryShape !== undefined) patch.refundQueryShape = refundQueryShape;
    if (input.refundRefusal !== undefined) patch.refundRefusal = input.refundRefusal;
    if (input.outTradeNo !== undefined && typeof input.outTradeNo !== "string") {
      throw new SimulatorError(400, "INVALID_SCENARIO", "outTradeNo must be a string");
    }
    if (input.outTradeNo) {
      this.perOrder.set(input.outTradeNo, { ...this.perOrder.get(input.outTradeNo), ...patch });
      return this.effective(input.outTradeNo);
    }
    this.global = { ...this.global, ...patch };
    return this.effective(undefined);
  }

  effective(outTradeNo: string | undefined): Scenario {
    return { ...defaults, ...this.global, ...(outTradeNo ? this.perOrder.get(outTradeNo) : undefined) };
  }

  reset(): void {
    this.global = {};
    this.perOrder.clear();
  }
}

const modes: readonly FaultMode[] = ["5xx", "timeout", "slow", "rate-limit", "unknown-error", "system-error", "unsigned-system-error"];

interface ArmedFault extends FaultInput {
  remaining: number;
}

export class FaultStore {
  private faults: ArmedFault[] = [];

  add(input: FaultInput): void {
    if (!modes.includes(input.mode)) {
      throw new SimulatorError(400, "INVALID_FAULT", `mode must be one of ${modes.join(", ")}`);
    }
    const n = count(input.count, "count");
    if (!n) throw new SimulatorError(400, "INVALID_FAULT", "count must be a positive integer");
    for (const field of ["method", "outTradeNo"] as const) {
      if (input[field] !== undefined && typeof input[field] !== "string") {
        throw new SimulatorError(400, "INVALID_FAULT", `${field} must be a string`);
      }
    }
    if (input.mode === "slow" && !(Number.isInteger(input.delayMs) && input.delayMs! >= 1 && input.delayMs! <= 120_000)) {
      throw new SimulatorError(400, "INVALID_FAULT", "slow needs delayMs, an integer from 1 to 120000");
    }
    this.faults.push({ ...input, afterProcessing: input.afterProcessing === true, remaining: n });
  }

  /** Consumes one use of the first armed fault matching this request. */
  take(method: string | undefined, outTradeNo: string | undefined): FaultInput | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 && (f.method === undefined || f.method === method) && (f.outTradeNo === undefined || f.outTradeNo === outTradeNo),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    const { remaining: _remaining, ...rest } = fault;
    return rest;
  }

  pending(): Array<FaultInput & { remaining: number }> {
    return this.faults.map((f) => ({ ...f }));
  }

  reset(): void {
    this.faults = [];
  }
}
