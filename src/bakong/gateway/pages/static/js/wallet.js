// What every page of the customer's wallet shares: the session, errors, activity rows.
//
// - The session is the bearer token of role `customer` in sessionStorage (`api.js`). A page
//   that needs one and has none sends the person to sign in, remembering where they were
//   (a path of the wallet only); a token the gateway no longer accepts is forgotten the same way.
// - `fail(error, element)` shows an ApiError in words (`explain`), or signs out on an ended
//   session: every page reports its errors through it.
// - Rows of activity are built with DOM calls and textContent only: nothing the API returns
//   is ever parsed as HTML.

import { api, explain, money, say, setToken, t, token, when } from "./api.js";

export const ROLE = "customer";

export function signInPath(next) {
  const back = next && next.startsWith("/wallet/") ? next : "/wallet/";
  return "/wallet/signin?next=" + encodeURIComponent(back);
}

// True when a customer's session is present; otherwise off to sign in (false).
export function requireSession() {
  if (token(ROLE)) return true;
  location.replace(signInPath(location.pathname));
  return false;
}

export function sessionEnded() {
  setToken(ROLE, null);
  location.replace(signInPath(location.pathname) + "&ended=1");
}

export function fail(error, element) {
  if (error && error.name === "AbortError") return;
  if (error && error.code === "unauthenticated") {
    sessionEnded();
    return;
  }
  if (!(error && error.code)) console.warn("unexpected", error);
  say(element, explain(error || {}));
}

export async function signOut() {
  try {
    await api("DELETE", "/v1/sessions");
  } catch (_) {
    // Gone already, or the gateway is unreachable: the token is forgotten here either way.
  }
  setToken(ROLE, null);
  location.assign("/wallet/signin");
}

// Show the parts of a page meant for a signed-in customer.
export function reveal() {
  for (const element of document.querySelectorAll("[data-signed-in]")) element.hidden = false;
}

// A phone number as typed in Cambodia ("012 345 678", "855 12 ...", "+855 ...") in E.164, or null.
export function e164(text) {
  let digits = String(text).trim().replace(/[\s().-]/g, "");
  if (digits.startsWith("00")) digits = "+" + digits.slice(2);
  else if (digits.startsWith("0")) digits = "+855" + digits.slice(1);
  else if (digits.startsWith("855")) digits = "+" + digits;
  return /^\+[1-9][0-9]{7,14}$/.test(digits) ? digits : null;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// Where money sent to a phone with no wallet stands (`GET /v1/claims` `claim`), in words.
export function claimState(claim) {
  switch (claim.state) {
    case "placing":
      return t("wallet.entry.claim_placing");
    case "pending_claim":
      return t("wallet.entry.claim_pending", { date: when(claim.expires_ms) });
    case "claiming":
      return t("wallet.entry.claim_claiming");
    case "claimed":
      return t("wallet.entry.claim_claimed", { date: when(claim.finished_ms) });
    case "returning":
      return t("wallet.entry.claim_returning");
    case "returned":
      return t("wallet.entry.claim_returned", { date: when(claim.finished_ms) });
    default:
      return t("wallet.entry.claim_refused");
  }
}

// An amount in a currency's minor units, as "1,250.00 THB".
export function foreignMoney(amount, currency, exponent) {
  const digits = String(amount).padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const text = exponent ? whole + "." + digits.slice(digits.length - exponent) : whole;
  return text + " " + currency;
}

// A shop abroad as the history and the receipt name it: "Somchai Noodles, Bangkok, TH".
export function foreignShop(foreign) {
  return [foreign.merchant_name, foreign.city, foreign.country].filter(Boolean).join(", ");
}

// One history entry as a list row linking to its receipt (for money sent to a phone with no
// wallet, to that claim's page, with where it stands; a payment to a shop abroad names the
// shop and shows its price in the shop's currency).
export function entryRow(entry) {
  const incoming = entry.direction === "in";
  const claim = incoming ? null : entry.claim || null;
  const item = document.createElement("li");
  item.className = "entry";
  const link = document.createElement("a");
  link.href = claim ? "/wallet/sent/" + claim.claim_id : "/wallet/receipt/" + entry.tx_hash;
  // A claimed claim's entry is the escrow's transfer: the payer knows it by the phone.
  const foreign = incoming ? null : entry.foreign || null;
  const who = span("who", t(incoming ? "wallet.entry.in" : "wallet.entry.out", {
    who: claim ? claim.phone : foreign ? foreignShop(foreign) : entry.counterparty,
  }));
  who.append(document.createElement("br"));
  let detail = entry.result === "ok" ? when(entry.time_ms) : t("wallet.entry.refused");
  if (claim) detail = claimState(claim);
  if (foreign) {
    const price = foreignMoney(
      foreign.foreign_amount, foreign.foreign_currency, foreign.foreign_exponent,
    );
    detail = t("wallet.entry.foreign", { date: detail, price, rate: foreign.rate_text });
  }
  who.append(span(claim ? "small claim-state " + claim.state : "muted small", detail));
  const sign = entry.result !== "ok" ? "" : incoming ? "+" : "−";
  const amount = span("amount " + (incoming ? "in" : "out"), sign + money(entry.amount, entry.asset));
  link.append(who, amount);
  item.append(link);
  return item;
}

// Money this bank holds for the wallet's phone (`GET /v1/wallet/claims/waiting`), as a row.
export function waitingRow(claim) {
  const item = document.createElement("li");
  item.className = "entry";
  const text = document.createElement("span");
  text.className = "who";
  const params = {
    amount: money(claim.amount, claim.asset),
    from: claim.from,
    bank: claim.bank_name,
    date: when(claim.expires_ms),
  };
  let key = "wallet.waiting.item";
  if (claim.state === "claiming") key = "wallet.waiting.item_claiming";
  else if (claim.locked) key = "wallet.waiting.item_locked";
  text.textContent = t(key, params);
  item.append(text);
  return item;
}

// Show a `dt`/`dd` pair (or any elements) marked `data-NAME` when `shown`.
export function toggle(name, shown) {
  for (const element of document.querySelectorAll("[data-" + name + "]")) element.hidden = !shown;
}

// Seconds left until `ms` as "m:ss" (0:00 once past).
export function countdownText(ms, now = Date.now()) {
  const left = Math.max(0, Math.ceil((ms - now) / 1000));
  return Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
}

// How long a run of wrong PINs locks the wallet, as the page was told by the server.
export function lockoutMinutes() {
  const holder = document.querySelector("[data-lockout-minutes]");
  return holder ? Number(holder.dataset.lockoutMinutes) : 15;
}

// A refusal of something confirmed with the PIN, in words: a wrong PIN says the tries left
// before the lockout, a locked wallet until when; anything else as `explain` says it.
export function pinRefusal(problem) {
  if (problem.code === "pin_locked" || (problem.code === "login_failed" && problem.locked_until_ms)) {
    return t("wallet.signin.locked", { time: when(problem.locked_until_ms) });
  }
  if (problem.code === "login_failed") {
    return t("wallet.confirm.pin_attempts", {
      attempts_left: problem.attempts_left ?? 0,
      minutes: lockoutMinutes(),
    });
  }
  return explain(problem);
}
