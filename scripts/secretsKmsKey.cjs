// The KMS key of the SSM SecureStrings as an IAM policy Resource, resolved when the template is
// built (`${file(scripts/secretsKmsKey.cjs):decryptResource}` in infra/iam.yml). The kms:Decrypt
// statement is deployed only under a customer-managed key (condition SecretsUnderCustomerManagedKey),
// but CloudFormation and cfn-lint validate both branches of its Fn::If: under the default aws/ssm
// the unused branch names that key's alias ARN, a valid ARN that is never granted, instead of the
// bare "aws/ssm" (cfn-lint E3510). Any other value that is not a KMS key or alias ARN stops the
// build with a message naming the parameter. Plain CommonJS: osls loads it as a variable source.
"use strict";

const awsManagedKey = "aws/ssm";
const kmsArnPattern = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** The Resource for `value` (secretsKmsKeyArn): the key's ARN, or aws/ssm's alias ARN in this account and region. */
function decryptResourceOf(value) {
  if (value === awsManagedKey) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not a template.
    return { "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/ssm" };
  }
  if (typeof value === "string" && kmsArnPattern.test(value)) return value;
  throw new Error(
    `secretsKmsKeyArn must be ${awsManagedKey} or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not ${JSON.stringify(value)}`,
  );
}

module.exports = {
  decryptResourceOf,
  // osls's resolveVariable answers with a promise, the local stack's (local/serverlessConfig.ts) at once.
  decryptResource: ({ resolveVariable }) => {
    const value = resolveVariable("param:secretsKmsKeyArn");
    return value instanceof Promise ? value.then(decryptResourceOf) : decryptResourceOf(value);
  },
};
