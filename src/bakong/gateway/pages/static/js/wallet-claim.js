// Claim money sent to this wallet's phone before it had a wallet: the bank and the 10-digit
// code from the text (`POST /v1/wallet/claims`). Money this bank holds for the phone is
// listed above the form (`GET /v1/wallet/claims/waiting`); another bank's is known only from
// its text, so the form is always there.
//
// - The code never goes in a URL; the bank may (`?bank=aclb`, from the home's list).
// - A claim on its way (202) is asked again, with the same body, until it is final: the
//   holding bank drives the same claim and pays it once.
// - Each refusal is said in words: a wrong code with the tries left (the last wrong try
//   locks it), locked, expired, returned to the sender, nothing waiting at that bank.

import { api, explain, money, say, t } from "./api.js";
import { fail, requireSession, waitingRow } from "./wallet.js";

const RETRY_MS = 1500;
const RETRIES = 20;

const field = (id) => document.getElementById(id);
const form = field("claim-form");
const error = field("error");

async function showWaiting() {
  const answer = await api("GET", "/v1/wallet/claims/waiting");
  field("waiting-list").replaceChildren(...answer.claims.map(waitingRow));
  field("waiting").hidden = answer.claims.length === 0;
}

function invalid(id, message) {
  field(id).setAttribute("aria-invalid", "true");
  say(error, message);
  field(id).focus();
}

function refusal(problem) {
  if (problem.code === "claim_code_wrong" && !problem.attempts_left) return t("error.claim_locked");
  return explain(problem);
}

function claimed(answer) {
  form.hidden = true;
  say(error, "");
  field("claimed-amount").textContent = "+" + money(answer.amount, answer.asset);
  field("claimed-from").textContent = t("wallet.claim.done_from", { bank: answer.payer_bank });
  field("claimed").hidden = false;
  field("claimed-title").focus();
}

async function claim(body) {
  for (let attempt = 0; attempt < RETRIES; attempt += 1) {
    const answer = await api("POST", "/v1/wallet/claims", body);
    if (answer.state === "claimed") return claimed(answer);
    say(error, t("wallet.claim.claiming"), "info");
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  say(error, t("common.error.unknown"));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say(error, "");
  const bank = field("bank").value.trim().toLowerCase();
  const code = field("claim-code").value.replace(/[\s-]/g, "");
  if (!/^[a-z]{3,8}$/.test(bank)) return invalid("bank", t("wallet.check.bank"));
  if (!/^[0-9]{10}$/.test(code)) return invalid("claim-code", t("wallet.check.claim_code"));
  const button = field("claim-submit");
  button.disabled = true;
  try {
    await claim({ bank, code });
  } catch (problem) {
    if (problem.code === "unauthenticated") return fail(problem, error);
    say(error, refusal(problem));
    const where = problem.code === "claim_not_found" || problem.code === "bank_invalid"
      ? "bank" : "claim-code";
    if (problem.code === "claim_code_wrong" || where === "bank") {
      field(where).setAttribute("aria-invalid", "true");
    }
    field(where).focus();
  } finally {
    button.disabled = false;
    // The list follows what the claim changed; its own failure must not hide the claim's answer.
    showWaiting().catch(() => {});
  }
});

field("claim-another").addEventListener("click", () => {
  field("claimed").hidden = true;
  field("claim-code").value = "";
  form.hidden = false;
  field("claim-code").focus();
});

if (requireSession()) {
  const bank = new URLSearchParams(location.search).get("bank");
  if (bank && /^[a-z]{3,8}$/.test(bank)) field("bank").value = bank;
  showWaiting().catch((problem) => fail(problem, error));
}
