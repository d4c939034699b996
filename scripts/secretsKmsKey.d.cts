// Types of scripts/secretsKmsKey.cjs (plain CommonJS, loaded by osls as a variable source).
type DecryptResource = string | { "Fn::Sub": string };
export declare function decryptResourceOf(value: unknown): DecryptResource;
/** A promise when resolveVariable answers with one (osls), else the value (the local stack). */
export declare function decryptResource(input: {
  resolveVariable: (address: string) => unknown;
}): DecryptResource | Promise<DecryptResource>;
