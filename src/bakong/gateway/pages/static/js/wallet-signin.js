// Sign in with phone and PIN. A wrong PIN says how many tries are left before the wallet
// locks; a locked wallet says until when. A merchant's owner is sent to the till.

import { api, explain, say, setToken, t, when } from "./api.js";
import { e164, lockoutMinutes, ROLE } from "./wallet.js";

const form = document.getElementById("signin");
const error = document.getElementById("error");
const phone = document.getElementById("phone");
const pin = document.getElementById("pin");

function next() {
  const asked = new URLSearchParams(location.search).get("next") || "";
  return asked.startsWith("/wallet/") && !asked.startsWith("/wallet/signin") ? asked : "/wallet/";
}

function invalid(input, message) {
  input.setAttribute("aria-invalid", "true");
  say(error, message);
  input.focus();
}

function refusal(problem) {
  if (problem.code === "pin_locked" || (problem.code === "login_failed" && problem.locked_until_ms)) {
    return t("wallet.signin.locked", { time: when(problem.locked_until_ms) });
  }
  if (problem.code === "login_failed" && typeof problem.attempts_left === "number") {
    return t("wallet.signin.attempts", {
      attempts_left: problem.attempts_left,
      minutes: lockoutMinutes(),
    });
  }
  return explain(problem);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const input of [phone, pin]) input.removeAttribute("aria-invalid");
  const number = e164(phone.value);
  if (!number) return invalid(phone, t("wallet.check.phone"));
  if (!/^[0-9]{6,12}$/.test(pin.value)) return invalid(pin, t("wallet.check.pin"));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const session = await api("POST", "/v1/sessions", { phone: number, pin: pin.value });
    if (session.role === "merchant") {
      setToken("merchant", session.token);
      location.assign("/till/");
      return;
    }
    setToken(ROLE, session.token);
    location.assign(next());
  } catch (problem) {
    pin.value = "";
    say(error, refusal(problem));
    if (problem.code === "login_failed") pin.setAttribute("aria-invalid", "true");
    pin.focus();
  } finally {
    button.disabled = false;
  }
});

if (new URLSearchParams(location.search).has("ended")) say(error, t("wallet.signin.expired"), "info");
