// Paying a foreign shop's QR code from the scan page (issue 20). A code the page cannot read
// as a KHQR goes to the gateway (`POST /v1/wallet/foreign/quotes`), which tells whether it is
// a foreign scheme it pays through the cross-border link. A code without an amount asks for
// one in the shop's currency. The quote shows the shop, the price in its currency, the riel
// total, the rate and how long the price holds, counting down; then the PIN. The receipt
// shows the rate.
//
// - One idempotency key per quote screen: pressing "pay" again after a network failure or a
//   wrong PIN sends the same key, so the gateway pays at most once.
// - A payment still being confirmed abroad (202) is asked after until it is final; past the
//   polls the receipt says it is still being confirmed (the riel stays held meanwhile).

import { api, idempotencyKey, money, say, t } from "./api.js";
import { countdownText, foreignMoney, pinRefusal } from "./wallet.js";

const POLL_MS = 1000;
const POLLS = 30;
const LOW_S = 30;
// Codes that say "this is not a foreign code the gateway pays": the scan page says it is not
// a payment code it knows.
const NOT_FOREIGN = ["not_foreign", "qr_not_recognised", "qr_invalid", "crossborder_not_configured"];
const FINAL = ["completed", "failed", "reversed"];

const field = (id) => document.getElementById(id);
const amountStep = field("foreign-amount-step");
const section = field("foreign-confirm");
const error = field("foreign-error");
const pin = field("foreign-pin");
let current = null; // {quote, key, onCancel}
let asking = null; // {text, currency, exponent, onCancel} while the amount step shows
let timer = null;

// What a person typed, in the currency's minor units, or null (never through a float).
function parseForeign(text, exponent) {
  const cleaned = String(text).trim().replace(/[,\s]/g, "");
  const pattern = exponent ? new RegExp("^(\\d+)(?:\\.(\\d{1," + exponent + "}))?$") : /^(\d+)$/;
  const found = pattern.exec(cleaned);
  if (!found) return null;
  const fraction = (found[2] || "").padEnd(exponent, "0");
  const units = BigInt(found[1]) * 10n ** BigInt(exponent) + BigInt(fraction || "0");
  if (units <= 0n || units > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(units);
}

function stopTimer() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

function tick(expiresMs) {
  const clock = field("foreign-expiry");
  clock.textContent = countdownText(expiresMs);
  const left = expiresMs - Date.now();
  clock.classList.toggle("low", left < LOW_S * 1000);
  if (left <= 0) {
    stopTimer();
    say(error, t("wallet.foreign.expired"));
    field("foreign-pay").disabled = true;
  }
}

function show(quote, onCancel) {
  current = { quote, key: idempotencyKey("web-fx"), onCancel };
  amountStep.hidden = true;
  field("foreign-merchant").textContent = quote.merchant_name;
  field("foreign-place").textContent = [quote.city, quote.country].filter(Boolean).join(", ");
  field("foreign-price").textContent = foreignMoney(
    quote.foreign_amount, quote.foreign_currency, quote.foreign_exponent,
  );
  field("foreign-total").textContent = money(quote.khr_amount, "KHR");
  field("foreign-rate").textContent = quote.rate_text;
  field("foreign-pay").disabled = false;
  say(error, "");
  stopTimer();
  tick(quote.expires_ms);
  timer = setInterval(() => tick(quote.expires_ms), 1000);
  pin.value = "";
  section.hidden = false;
  field("foreign-done").hidden = true;
  field("foreign-title").focus();
}

async function ask(text, amount, onCancel) {
  const body = amount === null ? { qr: text } : { qr: text, amount };
  const answer = await api("POST", "/v1/wallet/foreign/quotes", body);
  show(answer.quote, onCancel);
}

// Take a scanned code the page did not read as a KHQR: true when the gateway pays it abroad
// (its quote or the amount step now shows), false when it is no foreign code it knows. Other
// refusals (the link down, ...) are thrown for the scan page to show.
export async function payForeign(text, { onShown = () => {}, onCancel = () => {} } = {}) {
  try {
    const answer = await api("POST", "/v1/wallet/foreign/quotes", { qr: text });
    onShown();
    show(answer.quote, onCancel);
    return true;
  } catch (problem) {
    if (NOT_FOREIGN.includes(problem.code)) return false;
    if (problem.code !== "amount_required" || !problem.currency) throw problem;
    onShown();
    asking = { text, currency: problem.currency, exponent: problem.exponent ?? 2, onCancel };
    field("foreign-amount-for").textContent = t("wallet.foreign.amount_for", {
      currency: problem.currency,
    });
    field("foreign-amount-currency").textContent = problem.currency;
    amountStep.hidden = false;
    field("foreign-amount").focus();
    return true;
  }
}

async function settle(answer) {
  let found = answer.payment;
  for (let poll = 0; !FINAL.includes(found.state) && poll < POLLS; poll += 1) {
    say(error, t("wallet.foreign.pending"), "info");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    found = (await api("GET", "/v1/wallet/foreign/payments/" + found.payment_id)).payment;
  }
  return found;
}

function stateText(state) {
  return t("wallet.foreign.state_" + (FINAL.includes(state) ? state : "pending"));
}

function done(payment) {
  stopTimer();
  section.hidden = true;
  const paid = payment.state === "completed";
  field("foreign-done-title").textContent = t(
    paid ? "wallet.foreign.done" : FINAL.includes(payment.state) ? "wallet.foreign.not_done"
      : "wallet.foreign.still_pending",
  );
  field("foreign-done-total").textContent = money(payment.khr_amount, "KHR");
  field("foreign-done-merchant").textContent = payment.merchant_name;
  field("foreign-done-price").textContent = foreignMoney(
    payment.foreign_amount, payment.foreign_currency, payment.foreign_exponent,
  );
  field("foreign-done-rate").textContent = payment.rate_text;
  field("foreign-done-state").textContent = stateText(payment.state);
  field("foreign-done-reference").textContent = payment.end_to_end_id;
  field("foreign-done").hidden = false;
  field("foreign-done-title").focus();
}

amountStep.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!asking) return;
  const input = field("foreign-amount");
  input.removeAttribute("aria-invalid");
  const amount = parseForeign(input.value, asking.exponent);
  if (amount === null) {
    input.setAttribute("aria-invalid", "true");
    say(field("error"), t("wallet.check.amount"));
    input.focus();
    return;
  }
  try {
    say(field("error"), "");
    await ask(asking.text, amount, asking.onCancel);
  } catch (problem) {
    say(field("error"), pinRefusal(problem));
  }
});

field("foreign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  pin.removeAttribute("aria-invalid");
  if (!/^[0-9]{6,12}$/.test(pin.value)) {
    pin.setAttribute("aria-invalid", "true");
    say(error, t("wallet.check.pin"));
    pin.focus();
    return;
  }
  const button = field("foreign-pay");
  button.disabled = true;
  button.textContent = t("wallet.foreign.paying");
  const body = { quote_id: current.quote.quote_id, pin: pin.value, idempotency_key: current.key };
  pin.value = "";
  let finished = false;
  try {
    done(await settle(await api("POST", "/v1/wallet/foreign/payments", body)));
    finished = true;
  } catch (problem) {
    if (problem.payment && FINAL.includes(problem.payment.state)) {
      done(problem.payment);
      say(field("error"), pinRefusal(problem));
      finished = true;
      return;
    }
    say(error, pinRefusal(problem));
    if (problem.code === "login_failed") pin.setAttribute("aria-invalid", "true");
    pin.focus();
  } finally {
    button.textContent = t("wallet.foreign.pay");
    button.disabled = finished;
  }
});

field("foreign-cancel").addEventListener("click", () => {
  stopTimer();
  section.hidden = true;
  const cancelled = current;
  current = null;
  if (cancelled && cancelled.onCancel) cancelled.onCancel();
});
