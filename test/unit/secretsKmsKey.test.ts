// The kms:Decrypt Resource infra/iam.yml gets from scripts/secretsKmsKey.cjs when the template is
// built: the customer-managed key's ARN, or (aws/ssm: the statement is not deployed) a valid ARN
// that cfn-lint accepts; anything else stops the build naming the parameter.
import { describe, expect, it } from "vitest";
import { decryptResource, decryptResourceOf } from "../../scripts/secretsKmsKey.cjs";

const key = "arn:aws:kms:ap-southeast-1:111122223333:key/0b6e5c2a-1111-2222-3333-444455556666";

describe("secretsKmsKeyArn as a policy Resource", () => {
  it("is the key's ARN, or aws/ssm's alias ARN in the stack's account", async () => {
    expect(decryptResourceOf(key)).toBe(key);
    expect(decryptResourceOf("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef")).toMatch(/^arn:aws-cn:/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
    expect(decryptResourceOf("aws/ssm")).toEqual({ "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ssm" });
    const asked: string[] = [];
    const resolved = await decryptResource({
      resolveVariable: async (address) => {
        asked.push(address);
        return key;
      },
    });
    expect([resolved, asked]).toEqual([key, ["param:secretsKmsKeyArn"]]);
    // The local stack's resolver answers at once (local/serverlessConfig.ts): so does this.
    expect(decryptResource({ resolveVariable: () => key })).toBe(key);
  });

  it("refuses what IAM cannot grant decryption on: an alias ARN, a bare id, an empty value", () => {
    for (const bad of [
      "",
      "mykey",
      "0b6e5c2a-1111-2222-3333-444455556666",
      "arn:aws:kms:ap-southeast-1:111122223333:alias/payments",
      `${key} `,
      42,
    ]) {
      expect(() => decryptResourceOf(bad), String(bad)).toThrow(/^secretsKmsKeyArn must be aws\/ssm or a KMS key ARN/);
    }
  });
});
