// Types of scripts/secretsKmsKey.cjs (plain CommonJS, loaded by osls as a variable source).
export declare function decryptResourceOf(value: unknown): string | { "Fn::Sub": string };
export declare function decryptResource(input: {
  resolveVariable: (address: string) => Promise<unknown>;
}): Promise<string | { "Fn::Sub": string }>;
