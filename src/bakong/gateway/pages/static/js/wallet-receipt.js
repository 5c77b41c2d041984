// One payment's receipt: the customer's history entries of one transaction (the API's
// `tx_hash` filter; a wallet payment is one entry), with direction, other party, amount,
// time, block and result. A payment to a shop abroad shows the shop, where it is, the price in
// its currency, the riel total and the rate (the entry's `foreign`).

import { api, money, say, t, when } from "./api.js";
import { fail, foreignMoney, requireSession, toggle } from "./wallet.js";

const field = (id) => document.getElementById(id);
const error = field("error");
const receipt = field("receipt");

async function load() {
  try {
    const hash = receipt.dataset.txHash;
    const page = await api("GET", "/v1/wallet/history?tx_hash=" + hash);
    const entry = page.entries[0];
    if (!entry) {
      receipt.hidden = true;
      say(error, t("wallet.receipt.not_found"));
      return;
    }
    const incoming = entry.direction === "in";
    field("receipt-amount").textContent = (incoming ? "+" : "−") + money(entry.amount, entry.asset);
    field("receipt-direction").textContent = t(incoming ? "wallet.receipt.in" : "wallet.receipt.out");
    field("receipt-counterparty").textContent = entry.counterparty;
    const foreign = incoming ? null : entry.foreign || null;
    if (foreign) {
      field("receipt-direction").textContent = t("wallet.foreign.done");
      field("receipt-counterparty").textContent = foreign.merchant_name;
      field("receipt-foreign-place").textContent = [foreign.city, foreign.country]
        .filter(Boolean).join(", ");
      field("receipt-foreign-price").textContent = foreignMoney(
        foreign.foreign_amount, foreign.foreign_currency, foreign.foreign_exponent,
      );
      field("receipt-foreign-total").textContent = money(foreign.khr_amount, "KHR");
      field("receipt-foreign-rate").textContent = foreign.rate_text;
    }
    toggle("foreign", Boolean(foreign));
    field("receipt-time").textContent = when(entry.time_ms);
    field("receipt-status").textContent =
      entry.result === "ok" ? t("wallet.receipt.ok") : t("wallet.receipt.refused", { result: entry.result });
    field("receipt-memo").textContent = entry.memo || "";
    toggle("memo", Boolean(entry.memo));
    field("receipt-height").textContent = String(entry.height);
  } catch (problem) {
    fail(problem, error);
  } finally {
    receipt.setAttribute("aria-busy", "false");
  }
}

if (requireSession()) load();
