// Send money to a handle (`name@bank`, which is the account ID) or a phone number: the
// preview shows the name the payee's bank gives before the PIN is asked (`wallet-pay.js`).
//
// A phone that has no wallet at any bank (the preview's 404 `recipient_not_found` with
// `claimable`) is said so plainly, with an offer to send anyway: the money then waits in a
// claimable hold, the payee is texted a code, and what nobody claims by the end of the
// claim period (the date is shown) comes back. The payer may also let the payee take it as
// cash at an agent: the page then draws a secret, sent with the payment and shown to the
// payer to pass on (the gateway keeps only a keyed hash of it).

import { api, money, parseAmount, say, t, when } from "./api.js";
import { confirm } from "./wallet-pay.js";
import { e164, fail, requireSession } from "./wallet.js";

const SECRET_DIGITS = 6;

const field = (id) => document.getElementById(id);
const form = field("send-form");
const error = field("error");
const offer = field("claim-offer");
const claimPeriodMs = Number(form.dataset.claimPeriodMs);
let offered = null;

// The payee as the API takes it, or null when the text is neither a handle nor a phone.
function payee(text) {
  const cleaned = text.trim().toLowerCase();
  if (/^[a-z0-9_.]{1,28}@[a-z]{3,8}$/.test(cleaned)) return { account: cleaned };
  const phone = /^[+0-9][0-9\s().-]*$/.test(cleaned) ? e164(cleaned) : null;
  return phone ? { phone } : null;
}

function invalid(id, message) {
  field(id).setAttribute("aria-invalid", "true");
  say(error, message);
  field(id).focus();
}

// A secret of SECRET_DIGITS digits, each uniform (no modulo bias).
function drawSecret() {
  const digits = [];
  const byte = new Uint8Array(1);
  while (digits.length < SECRET_DIGITS) {
    crypto.getRandomValues(byte);
    if (byte[0] < 250) digits.push(byte[0] % 10);
  }
  return digits.join("");
}

function backToForm() {
  offer.hidden = true;
  offered = null;
  form.hidden = false;
  field("recipient").focus();
}

function offerClaim(request) {
  offered = request;
  form.hidden = true;
  field("claim-offer-text").textContent = t("wallet.offer.text", {
    phone: request.to.phone,
    amount: money(request.amount, request.asset),
  });
  field("claim-offer-return").textContent = t("wallet.offer.return", {
    date: when(Date.now() + claimPeriodMs),
  });
  field("claim-agent").checked = false;
  offer.hidden = false;
  field("claim-offer-title").focus();
}

field("claim-change").addEventListener("click", backToForm);

field("claim-continue").addEventListener("click", () => {
  if (!offered) return;
  const request = { ...offered };
  if (field("claim-agent").checked) request.claim_secret = drawSecret();
  offer.hidden = true;
  const preview = {
    payee: { account_id: request.to.phone, display_name: null },
    amount: request.amount,
    asset: request.asset,
  };
  confirm(preview, request, {
    claim: { expiresMs: Date.now() + claimPeriodMs, secret: request.claim_secret || null },
    onCancel: backToForm,
  });
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say(error, "");
  const to = payee(field("recipient").value);
  if (!to) return invalid("recipient", t("wallet.check.recipient"));
  const asset = form.querySelector("input[name=asset]:checked").value;
  const amount = parseAmount(field("amount").value, asset);
  if (amount === null) return invalid("amount", t("wallet.check.amount"));
  const memo = field("memo").value.trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const preview = await api("POST", "/v1/payments/preview", { to, amount, asset });
    form.hidden = true;
    confirm(preview, { to, amount, asset, memo }, {
      onCancel: () => {
        form.hidden = false;
        field("recipient").focus();
      },
    });
  } catch (problem) {
    if (problem.code === "recipient_not_found" && problem.claimable && to.phone) {
      offerClaim({ to, amount, asset, memo });
      return;
    }
    fail(problem, error);
    if (problem.code === "recipient_not_found" || problem.code === "recipient_invalid") {
      field("recipient").setAttribute("aria-invalid", "true");
      field("recipient").focus();
    }
  } finally {
    button.disabled = false;
  }
});

requireSession();
