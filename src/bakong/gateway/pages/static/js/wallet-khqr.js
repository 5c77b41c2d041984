// Reading a KHQR string in the page, only for what the confirm step shows before the gateway
// has checked it: the shop's name (tag 59), the currency (53) and amount (54), the payee's
// account (29 or 30, sub-tag 00), and a dynamic code's expiry (99, sub-tag 01). The gateway
// verifies the code itself (CRC, expiry, amount) when it previews and pays.
//
// EMVCo TLV: a 2-digit ID, a 2-digit length, the value; lengths count UTF-16 units, as
// JavaScript strings do.

const CURRENCIES = { "116": "KHR", "840": "USD" };

function fields(text) {
  const found = new Map();
  let at = 0;
  while (at + 4 <= text.length) {
    const id = text.slice(at, at + 2);
    const length = Number(text.slice(at + 2, at + 4));
    if (!/^\d\d$/.test(id) || !/^\d\d$/.test(text.slice(at + 2, at + 4))) return null;
    if (at + 4 + length > text.length) return null;
    found.set(id, text.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return at === text.length ? found : null;
}

// {account, merchant, asset, amount (text, or null), expiresMs (or null)}, or null when `text`
// is not a KHQR payment code.
export function readKhqr(text) {
  const top = typeof text === "string" && text.startsWith("000201") ? fields(text) : null;
  if (!top) return null;
  const template = top.get("29") ?? top.get("30");
  const inner = template ? fields(template) : null;
  const account = inner ? inner.get("00") : null;
  const asset = CURRENCIES[top.get("53")];
  if (!account || !asset) return null;
  const timestamps = top.has("99") ? fields(top.get("99")) : null;
  const expires = timestamps ? Number(timestamps.get("01")) : NaN;
  return {
    account,
    merchant: top.get("59") || null,
    asset,
    amount: top.get("54") || null,
    expiresMs: Number.isFinite(expires) && expires > 0 ? expires : null,
  };
}
