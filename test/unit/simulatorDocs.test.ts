// docs/simulator.md documents every /sim/* route the simulator serves, and every scenario and fault field.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";

const read = (...path: string[]) => readFileSync(join(projectRoot, ...path), "utf8");
const doc = read("docs", "simulator.md");

describe("docs/simulator.md", () => {
  it("names every /sim/* route of simulator/server.ts and simulator/bill.ts with its method", () => {
    const source = read("simulator", "server.ts") + read("simulator", "bill.ts");
    const routes = [...source.matchAll(/method === "(GET|POST)" && path === "(\/sim\/[^"]+)"/g)].map(([, m, p]) => `${m} ${p}`);
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) expect(doc, route).toContain(`\`${route}\``);
    for (const route of ["GET /sim/trades/{outTradeNo}", "POST /sim/trades/{outTradeNo}/finish", "POST /sim/trades/{outTradeNo}/expire"]) {
      expect(doc, route).toContain(`\`${route}\``);
    }
  });

  it("describes every field of a scenario, a fault and a bill plant", () => {
    const types = read("simulator", "types.ts");
    const fields = (name: string) => {
      const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(types)![1]!;
      return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map(([, field]) => field!);
    };
    for (const field of [...fields("ScenarioInput"), ...fields("FaultInput")]) expect(doc, field).toContain(`\`${field}\``);
    const plants = /export type BillPlantInput =([\s\S]*?);\n/.exec(read("simulator", "bill.ts"))![1]!;
    for (const [, kind] of plants.matchAll(/kind: "([\w-]+)"/g)) expect(doc, kind).toContain(`\`${kind}\``);
    for (const [, field] of plants.matchAll(/(\w+)\??: (?:string|number)/g)) expect(doc, field).toContain(`\`${field}`);
  });
});
