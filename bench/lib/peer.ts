// The peer baseline: the same three steps of a paid order (business create, the app's order string,
// Alipay's notification) written the way a careful team would with @aws-lambda-powertools/idempotency:
// makeIdempotent around straightforward handlers that read the payment, then write conditionally.
// Same data (one item per payment with its attempts), same signing and verification (our Alipay
// gateway), same answers; its own table and idempotency table. Bench only: lib/ never imports it.
//
//   create        makeIdempotent on the Idempotency-Key header (PutItem INPROGRESS, UpdateItem COMPLETED)
//                 around GetItem payment (one per business order: 200 / 409 if it exists) + conditional PutItem
//   order string  GetItem payment (owner, status, pending attempt) + sign + conditional UpdateItem (attempt + string)
//   notify        verify the signature, then makeIdempotent on notify_id around GetItem payment (attempt,
//                 amount) + conditional UpdateItem to PAID
import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { alipay } from "../../lib/alipay/client.js";
import { yuanToFen } from "../../lib/money.js";
import { derivePaymentId, outTradeNo, parseOutTradeNo } from "../../lib/payments/model.js";

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

interface PeerPayment {
  pk: string;
  paymentId: string;
  businessId: string;
  businessOrderId: string;
  userId: string;
  amountFen: number;
  subject: string;
  status: "OPEN" | "PAID";
  createdAt: number;
  expiresAt: number;
  attempts: Array<{ attemptNo: number; outTradeNo: string; status: string; createdAt: number; expiresAt: number }>;
  orderString?: string;
  tradeNo?: string;
}

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

const isConditionFailure = (error: unknown) => (error as { name?: string }).name === "ConditionalCheckFailedException";

export async function createPeerTables(admin: DynamoDBClient, tableName: string, idempotencyTable: string): Promise<void> {
  for (const [name, key] of [
    [tableName, "pk"],
    [idempotencyTable, "id"],
  ] as const) {
    await admin.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }],
        KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  }
}

export async function peerHandlers(client: DynamoDBClient, tableName: string, idempotencyTable: string, orderTtlSeconds: number) {
  const { makeIdempotent, IdempotencyConfig } = await import("@aws-lambda-powertools/idempotency");
  const { DynamoDBPersistenceLayer } = await import("@aws-lambda-powertools/idempotency/dynamodb");
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  // One per function, as each Lambda has its own: a persistence layer keeps the first configuration it is given.
  const persistenceStore = () => new DynamoDBPersistenceLayer({ tableName: idempotencyTable, awsSdkV3Client: client });
  const getPayment = async (paymentId: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: paymentId }, ConsistentRead: true }))).Item as
      | PeerPayment
      | undefined;
  const view = (p: PeerPayment) => ({
    paymentId: p.paymentId,
    businessOrderId: p.businessOrderId,
    userId: p.userId,
    status: p.status,
    amount: p.amountFen,
    subject: p.subject,
    expiresAt: new Date(p.expiresAt).toISOString(),
  });

  const create = makeIdempotent(
    async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
      const input = JSON.parse(event.body ?? "{}") as { businessOrderId: string; amount: number; subject: string; userId: string };
      if (!input.businessOrderId || !Number.isInteger(input.amount) || !input.subject || !input.userId) {
        return json(400, { code: "invalid_request", message: "bad body" });
      }
      const businessId = "shop";
      const paymentId = derivePaymentId(businessId, input.businessOrderId);
      const existing = await getPayment(paymentId);
      if (existing) {
        const same = existing.amountFen === input.amount && existing.subject === input.subject && existing.userId === input.userId;
        return same ? json(200, view(existing)) : json(409, { code: "payment_conflict", message: "differs" });
      }
      const now = Date.now();
      const payment: PeerPayment = {
        pk: paymentId,
        paymentId,
        businessId,
        businessOrderId: input.businessOrderId,
        userId: input.userId,
        amountFen: input.amount,
        subject: input.subject,
        status: "OPEN",
        createdAt: now,
        expiresAt: now + 1800_000,
        attempts: [],
      };
      try {
        await doc.send(new PutCommand({ TableName: tableName, Item: payment, ConditionExpression: "attribute_not_exists(pk)" }));
      } catch (error) {
        if (isConditionFailure(error)) return json(409, { code: "concurrent_update", message: "retry" });
        throw error;
      }
      return json(201, view(payment));
    },
    { persistenceStore: persistenceStore(), config: new IdempotencyConfig({ eventKeyJmesPath: 'headers."idempotency-key"' }) },
  ) as HttpHandler;

  const orderString: HttpHandler = async (event) => {
    const userId = String((event.requestContext as { authorizer?: { jwt?: { claims?: { sub?: string } } } }).authorizer?.jwt?.claims?.sub);
    const paymentId = event.pathParameters?.paymentId ?? "";
    const payment = await getPayment(paymentId);
    if (!payment || payment.userId !== userId) return json(404, { code: "payment_not_found", message: paymentId });
    if (payment.status !== "OPEN") return json(409, { code: "already_paid", message: paymentId });
    const pending = payment.attempts.at(-1);
    if (pending?.status === "PENDING") return json(200, { outTradeNo: pending.outTradeNo, orderString: payment.orderString });
    const now = Date.now();
    const attemptNo = payment.attempts.length + 1;
    const createdAt = Math.floor(now / 1000) * 1000;
    const attempt = {
      attemptNo,
      outTradeNo: outTradeNo(paymentId, attemptNo),
      status: "PENDING",
      createdAt,
      expiresAt: Math.min(createdAt + orderTtlSeconds * 1000, payment.expiresAt),
    };
    const signed = (await alipay()).orderString(
      { outTradeNo: attempt.outTradeNo, amountFen: payment.amountFen, subject: payment.subject, expiresAtMs: attempt.expiresAt },
      now,
    );
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: paymentId },
          UpdateExpression: "SET attempts = list_append(attempts, :attempt), orderString = :s",
          ConditionExpression: "#status = :open AND size(attempts) = :count",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":attempt": [attempt], ":s": signed, ":open": "OPEN", ":count": attemptNo - 1 },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return json(409, { code: "concurrent_update", message: "retry" });
      throw error;
    }
    return json(201, { outTradeNo: attempt.outTradeNo, orderString: signed });
  };

  const applyNotification = makeIdempotent(
    async (params: Record<string, string>): Promise<string> => {
      const ours = parseOutTradeNo(params.out_trade_no);
      const payment = ours && (await getPayment(ours.paymentId));
      const attempt = ours && payment?.attempts[ours.attemptNo - 1];
      if (!ours || !payment || !attempt || yuanToFen(params.total_amount) !== payment.amountFen) return "fail";
      if (payment.status === "PAID") return "success";
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: payment.paymentId },
            UpdateExpression: `SET #status = :paid, attempts[${ours.attemptNo - 1}].#status = :paid, tradeNo = :tradeNo REMOVE orderString`,
            ConditionExpression: `#status = :open AND attempts[${ours.attemptNo - 1}].#status = :pending`,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ":paid": "PAID", ":open": "OPEN", ":pending": "PENDING", ":tradeNo": params.trade_no },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      return "success";
    },
    { persistenceStore: persistenceStore(), config: new IdempotencyConfig({ eventKeyJmesPath: "notify_id" }) },
  );

  const notify: HttpHandler = async (event) => {
    const params = Object.fromEntries(new URLSearchParams(event.body ?? ""));
    if (params.sign_type !== "RSA2" || !(await alipay()).verifyNotification(params)) return { statusCode: 200, body: "fail" };
    return { statusCode: 200, body: await applyNotification(params) };
  };

  return { create, orderString, notify };
}
