// Send money to a handle (`name@bank`, which is the account ID) or a phone number: the
// preview shows the name the payee's bank gives before the PIN is asked (`wallet-pay.js`).

import { api, parseAmount, say, t } from "./api.js";
import { confirm } from "./wallet-pay.js";
import { e164, fail, requireSession } from "./wallet.js";

const field = (id) => document.getElementById(id);
const form = field("send-form");
const error = field("error");

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
