// GET /cashier: a self-contained page standing in for the Alipay app. Paste an order string, then Pay,
// "Open only" (reach the password step without paying) or Cancel; the ledger is listed below.
export function cashierPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Alipay simulator - cashier</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 960px; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; color: #1677ff; }
  textarea { width: 100%; height: 7rem; font: 12px monospace; box-sizing: border-box; }
  input { font: inherit; padding: .3rem; }
  button { font: inherit; padding: .4rem 1rem; margin-right: .5rem; cursor: pointer; }
  button.pay { background: #1677ff; color: #fff; border: 0; border-radius: 4px; }
  pre { background: #f5f5f5; padding: .8rem; overflow: auto; white-space: pre-wrap; }
  .ok { border-left: 4px solid #52c41a; } .err { border-left: 4px solid #ff4d4f; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { border-bottom: 1px solid #ddd; padding: .3rem; text-align: left; }
</style>
</head>
<body>
<h1>Alipay simulator &middot; cashier</h1>
<p>Paste the order string your backend produced with <code>sdkExecute('alipay.trade.app.pay', ...)</code>.</p>
<textarea id="order" placeholder="app_id=...&amp;biz_content=...&amp;sign=..."></textarea>
<p><label>Buyer id (optional): <input id="buyer" placeholder="2088xxxxxxxxxxxx" size="20"></label></p>
<p>
  <button class="pay" id="pay">Pay</button>
  <button id="open">Open only (no payment)</button>
  <button id="cancel">Cancel</button>
</p>
<pre id="result">No action yet.</pre>
<h2>Recent trades</h2>
<table><thead><tr><th>out_trade_no</th><th>trade_no</th><th>status</th><th>total</th><th>refunded</th><th>created (GMT+8)</th></tr></thead>
<tbody id="trades"></tbody></table>
<script>
  const $ = (id) => document.getElementById(id);
  async function post(path, body) {
    const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    $("result").className = res.ok ? "ok" : "err";
    $("result").textContent = (res.ok ? "OK " : "Refused (HTTP " + res.status + ") ") + JSON.stringify(data, null, 2);
    refresh();
  }
  function order() { return $("order").value.trim(); }
  $("pay").onclick = () => post("/sim/pay", { orderString: order(), buyerId: $("buyer").value.trim() || undefined });
  $("open").onclick = () => post("/sim/open", { orderString: order(), buyerId: $("buyer").value.trim() || undefined });
  $("cancel").onclick = () => post("/sim/cancel", { orderString: order() });
  async function refresh() {
    const trades = await fetch("/sim/trades").then((r) => r.json()).catch(() => []);
    const body = $("trades");
    body.textContent = "";
    for (const t of trades.slice(-20).reverse()) {
      const tr = document.createElement("tr");
      for (const v of [t.outTradeNo, t.tradeNo, t.status, t.totalAmount, t.refundedAmount, t.gmtCreate]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }
  refresh();
  setInterval(refresh, 3000);
</script>
</body>
</html>
`;
}
