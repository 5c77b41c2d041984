// Open a wallet: the phone, then the code texted to it, then handle, name, birth date and PIN.
//
// Opening is restartable on the server: while the account is on its way to the ledger the
// answer is 202, and the same request sent again finishes it, so the page repeats it a few
// times. A wrong or expired code sends the person back to the code step; a taken handle keeps
// them on the details with the handle in focus.

import { api, explain, say, setToken, t } from "./api.js";
import { e164, ROLE } from "./wallet.js";

const STEPS = ["phone-step", "code-step", "details-step"];
const RETRY_MS = 1500;
const RETRIES = 20;

const error = document.getElementById("error");
const forms = Object.fromEntries(STEPS.map((id) => [id, document.getElementById(id)]));
const field = (id) => document.getElementById(id);
let phone = null;
let code = null;

function show(step, focusId) {
  STEPS.forEach((id, index) => {
    forms[id].hidden = id !== step;
    if (id === step) field("step-label").textContent = t("wallet.signup.step", { step: index + 1, steps: 3 });
  });
  if (focusId) field(focusId).focus();
}

function invalid(id, message) {
  field(id).setAttribute("aria-invalid", "true");
  say(error, message);
  field(id).focus();
  return false;
}

function clear() {
  for (const input of document.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say(error, "");
}

async function sendCode() {
  await api("POST", "/v1/register/start", { phone });
  code = null;
  field("code").value = "";
  show("code-step", "code");
}

async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((button) => (button.disabled = true));
  try {
    await work();
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

forms["phone-step"].addEventListener("submit", (event) => {
  event.preventDefault();
  clear();
  phone = e164(field("phone").value);
  if (!phone) return invalid("phone", t("wallet.check.phone"));
  busy(forms["phone-step"], () => sendCode().catch((problem) => say(error, explain(problem))));
});

field("resend").addEventListener("click", () => {
  clear();
  busy(forms["code-step"], () => sendCode().catch((problem) => say(error, explain(problem))));
});

forms["code-step"].addEventListener("submit", (event) => {
  event.preventDefault();
  clear();
  const typed = field("code").value.trim();
  if (!/^[0-9]{6}$/.test(typed)) return invalid("code", t("wallet.check.code"));
  code = typed;
  show("details-step", "handle");
});

function details() {
  const handle = field("handle").value.trim().toLowerCase();
  const name = field("name").value.trim().replace(/\s+/g, " ");
  const birth = field("birth-date").value;
  const pin = field("pin").value;
  if (!/^[a-z0-9_.]{3,28}$/.test(handle)) return invalid("handle", t("wallet.check.handle"));
  if (!name) return invalid("name", t("wallet.check.name"));
  if (!/^\d{4}-\d{2}-\d{2}$/.test(birth)) return invalid("birth-date", t("wallet.check.birth_date"));
  if (!/^[0-9]{6,12}$/.test(pin)) return invalid("pin", t("wallet.check.pin"));
  if (field("pin-again").value !== pin) return invalid("pin-again", t("wallet.check.pin_match"));
  return { phone, code, handle, name, birth_date: birth, pin };
}

const BACK_TO = {
  code_wrong: ["code-step", "code"],
  code_expired: ["code-step", "code"],
  code_spent: ["code-step", "code"],
  code_missing: ["code-step", "code"],
  phone_registered: ["phone-step", "phone"],
  handle_taken: ["details-step", "handle"],
  handle_invalid: ["details-step", "handle"],
  name_invalid: ["details-step", "name"],
  birth_date_invalid: ["details-step", "birth-date"],
  pin_invalid: ["details-step", "pin"],
};

async function open(body) {
  for (let attempt = 0; attempt < RETRIES; attempt += 1) {
    const answer = await api("POST", "/v1/register/finish", body);
    if (answer.token) {
      setToken(ROLE, answer.token);
      location.assign("/wallet/");
      return;
    }
    say(error, t("wallet.signup.opening"), "info");
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  say(error, t("common.error.unknown"));
}

forms["details-step"].addEventListener("submit", (event) => {
  event.preventDefault();
  clear();
  const body = details();
  if (!body) return;
  busy(forms["details-step"], () =>
    open(body).catch((problem) => {
      const back = BACK_TO[problem.code];
      if (back) {
        show(back[0]);
        field(back[1]).setAttribute("aria-invalid", "true");
        field(back[1]).focus();
      }
      say(error, explain(problem));
    }),
  );
});

show("phone-step");
