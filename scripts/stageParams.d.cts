// Types of scripts/stageParams.cjs (plain CommonJS, loaded by osls as part of a plugin).
export declare const localStage: "local";
export declare function isPlaceholder(value: unknown): boolean;
export declare function cliParams(params: string | string[] | undefined): Record<string, string>;
export interface GivenParam {
  value: unknown;
  /** "default", "params.<stage>" or "--param" */
  from: string;
}
export declare function stageParams(
  config: { params?: Record<string, Record<string, unknown>> },
  stage: string,
  cli?: Record<string, string>,
): Record<string, GivenParam>;
export declare function referencedParams(serviceDir: string, configText: string): string[];
export interface StageProblem {
  name: string;
  problem: "missing" | "placeholder";
  value?: string;
  from?: string;
}
export declare function stageProblems(input: {
  serviceDir: string;
  configText: string;
  config: { params?: Record<string, Record<string, unknown>> };
  stage: string;
  cli?: Record<string, string>;
}): StageProblem[];
export declare function problemsMessage(stage: string, problems: StageProblem[]): string;
