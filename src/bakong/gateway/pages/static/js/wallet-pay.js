// The confirm step of a payment, shared by "send" and "scan": who is paid (the name their
// bank gives, and for a KHQR the shop and the code's expiry counting down), then the PIN,
// then the result.
//
// - One idempotency key per confirm screen: pressing "pay" again after a network failure or
//   a wrong PIN sends the same key, so the gateway pays at most once.
// - The PIN goes in the payment request (`pin`), checked by the gateway under the wallet's
//   lockout; a wrong one says how many tries are left.
// - A payment still on its way (202) is asked after until it is final.
// - Money for a phone with no wallet (`claim` given by `wallet-send.js`) shows the phone, the
//   date it comes back if unclaimed and the agent secret if one was drawn; once sent, where
//   the claim stands, the secret to share, and a link to the claim's own page.

import { api, idempotencyKey, money, say, t, when } from "./api.js";
import { countdownText, fail, pinRefusal, toggle } from "./wallet.js";

const POLL_MS = 1000;
const POLLS = 30;
const LOW_S = 30;

const field = (id) => document.getElementById(id);
const section = field("confirm");
const form = field("confirm-form");
const error = field("confirm-error");
const pin = field("confirm-pin");
let current = null;
let timer = null;
let secretToShare = null;

function stopTimer() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

function tick(expiresMs) {
  const clock = field("confirm-expiry");
  clock.textContent = countdownText(expiresMs);
  const left = expiresMs - Date.now();
  clock.classList.toggle("low", left < LOW_S * 1000);
  if (left <= 0) {
    stopTimer();
    say(error, t("wallet.confirm.expired"));
    field("pay").disabled = true;
  }
}

// Show the confirm step for a preview (`POST /v1/payments/preview`'s answer). `request` is
// what the payment sends besides key and PIN: {to, amount, asset, memo}. `khqr` adds the
// shop's name and the code's expiry when the payee is a scanned code.
export function confirm(
  preview, request, { merchant = null, expiresMs = null, claim = null, onCancel } = {},
) {
  current = { request, preview, key: idempotencyKey("web"), onCancel, claim };
  const name = preview.payee.display_name;
  field("confirm-name").textContent = claim
    ? t("wallet.confirm.no_wallet")
    : name || t("wallet.confirm.unknown_name");
  field("confirm-account-label").textContent = t(claim ? "wallet.confirm.phone" : "wallet.confirm.account");
  field("confirm-account").textContent = preview.payee.account_id;
  field("confirm-claim-until").textContent = claim ? when(claim.expiresMs) : "";
  toggle("claim", Boolean(claim));
  field("confirm-secret").textContent = (claim && claim.secret) || "";
  toggle("secret", Boolean(claim && claim.secret));
  field("confirm-amount").textContent = money(preview.amount, preview.asset);
  field("confirm-merchant").textContent = merchant || "";
  toggle("merchant", Boolean(merchant));
  field("confirm-memo").textContent = request.memo || "";
  toggle("memo", Boolean(request.memo));
  toggle("expiry", expiresMs !== null);
  stopTimer();
  field("pay").disabled = false;
  say(error, "");
  if (expiresMs !== null) {
    tick(expiresMs);
    timer = setInterval(() => tick(expiresMs), 1000);
  }
  pin.value = "";
  section.hidden = false;
  field("done").hidden = true;
  field("confirm-title").focus();
}

async function settle(answer) {
  let found = answer;
  for (let poll = 0; found.state !== "committed" && poll < POLLS; poll += 1) {
    say(error, t("wallet.confirm.pending"), "info");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    found = await api("GET", "/v1/payments/" + encodeURIComponent(current.key));
  }
  return found;
}

// The secret for a cash agent, handed to the share sheet, else the clipboard, else to the
// payer's own words.
async function shareSecret(secret) {
  const status = field("done-secret-status");
  const text = t("wallet.done.secret_text", { secret });
  try {
    if (navigator.share) {
      await navigator.share({ text });
      status.textContent = t("wallet.done.secret_shared");
    } else if (navigator.clipboard) {
      await navigator.clipboard.writeText(text);
      status.textContent = t("wallet.done.secret_copied");
    } else {
      status.textContent = t("wallet.done.secret_manual");
    }
  } catch (_) {
    status.textContent = t("wallet.done.secret_manual");
  }
}

function doneClaim(claim, secret) {
  const phone = current.preview.payee.account_id;
  field("done-title").textContent = t("wallet.done.claim_title");
  field("done-to").textContent = "";
  field("done-claim-state").textContent = t(
    claim.state === "placing" ? "wallet.done.claim_placing" : "wallet.done.claim_state",
    { phone },
  );
  field("done-claim-return").textContent = t("wallet.done.claim_return", {
    date: when(claim.expires_ms),
  });
  field("done-secret-value").textContent = secret || "";
  field("done-secret").hidden = !secret;
  secretToShare = secret;
  field("done-receipt").textContent = t("wallet.done.claim_receipt");
  field("done-receipt").href = "/wallet/sent/" + claim.claim_id;
  field("done-claim").hidden = false;
}

function done(payment) {
  stopTimer();
  const { preview } = current;
  section.hidden = true;
  field("done-amount").textContent = money(preview.amount, preview.asset);
  if (payment.claim) {
    doneClaim(payment.claim, current.request.claim_secret || null);
  } else {
    field("done-title").textContent = t("wallet.done.title");
    field("done-claim").hidden = true;
    field("done-receipt").textContent = t("wallet.done.receipt");
    field("done-to").textContent = t("wallet.done.to", {
      name: preview.payee.display_name || preview.payee.account_id,
      account: preview.payee.account_id,
    });
    if (payment.tx_hash) field("done-receipt").href = "/wallet/receipt/" + payment.tx_hash;
  }
  field("done").hidden = false;
  field("done-title").focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  pin.removeAttribute("aria-invalid");
  if (!/^[0-9]{6,12}$/.test(pin.value)) {
    pin.setAttribute("aria-invalid", "true");
    say(error, t("wallet.check.pin"));
    pin.focus();
    return;
  }
  const button = field("pay");
  button.disabled = true;
  button.textContent = t("wallet.confirm.paying");
  const body = { idempotency_key: current.key, ...current.request, pin: pin.value };
  pin.value = "";
  try {
    const payment = await settle(await api("POST", "/v1/payments", body));
    if (payment.state === "committed") done(payment);
  } catch (problem) {
    if (problem.code === "unauthenticated") return fail(problem, error);
    say(error, pinRefusal(problem));
    if (problem.code === "login_failed") pin.setAttribute("aria-invalid", "true");
    pin.focus();
  } finally {
    button.disabled = false;
    button.textContent = t("wallet.confirm.pay");
  }
});

field("done-secret-share").addEventListener("click", () => {
  if (secretToShare) shareSecret(secretToShare);
});

field("confirm-cancel").addEventListener("click", () => {
  stopTimer();
  section.hidden = true;
  const cancelled = current;
  current = null;
  if (cancelled && cancelled.onCancel) cancelled.onCancel();
});
