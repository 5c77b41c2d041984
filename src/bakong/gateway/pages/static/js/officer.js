// The bank officer's pages (`/officer/...`): sign in, find a customer and act, read the logs.
//
// - The session is the bearer token of role `officer` in sessionStorage (`api.js`); a page
//   that needs one and has none goes to the officer's sign-in.
// - A customer is looked up with `POST /v1/officer/customers/search` (the phone travels in
//   the body, never in a URL) and then opened by handle. Every change sends the reason the
//   officer typed and, where the API asks for it, the officer's confirmation of the checks
//   (documents for a higher tier, identity for a PIN reset); the page asks for the same
//   before sending, and shows the wallet again from the API after each change.
// - Everything the API returns is written with textContent, never parsed as HTML.

import { api, explain, money, say, setToken, t, token, when } from "./api.js";

const ROLE = "officer";
const PAGE_SIZE = 50;
const root = document.getElementById("officer");
const byId = (id) => document.getElementById(id);
const error = byId("error");
const TIER_NAMES = ["basic", "partial", "full", "institutional"];

function requireSession() {
  if (token(ROLE)) return true;
  location.replace("/officer/signin");
  return false;
}

function fail(problem) {
  if (problem && problem.name === "AbortError") return;
  if (problem && problem.code === "unauthenticated") {
    setToken(ROLE, null);
    location.replace("/officer/signin");
    return;
  }
  say(error, explain(problem || {}));
}

function call(method, path, body) {
  return api(method, path, body, { role: ROLE });
}

async function signOut() {
  try {
    await call("DELETE", "/v1/sessions");
  } catch (_) {
    // Ended already, or the bank is unreachable: the token is forgotten here either way.
  }
  setToken(ROLE, null);
  location.assign("/officer/signin");
}

// The signed-in parts of a page, once the gateway has confirmed the session.
async function reveal() {
  const me = await call("GET", "/v1/officer/session");
  byId("who").textContent = t("officer.signed_in_as", { name: me.name });
  for (const element of document.querySelectorAll("[data-signed-in]")) element.hidden = false;
  byId("sign-out").addEventListener("click", signOut);
}

function item(lines, trailing = null) {
  const row = document.createElement("li");
  row.className = "entry";
  const text = document.createElement("span");
  text.className = "who";
  lines.forEach((line, index) => {
    const part = document.createElement("span");
    part.className = index === 0 ? "line" : "line muted small";
    part.textContent = line;
    text.append(part);
  });
  row.append(text);
  if (trailing) row.append(trailing);
  return row;
}

function tag(text, kind) {
  const element = document.createElement("span");
  element.className = "tag " + kind;
  element.textContent = text;
  return element;
}

// -- sign in ------------------------------------------------------------------------------

function signInPage() {
  const form = byId("signin");
  const name = byId("name");
  const password = byId("password");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error, "");
    if (!name.value.trim()) {
      say(error, t("officer.check.name"));
      name.focus();
      return;
    }
    if (!password.value) {
      say(error, t("officer.check.password"));
      password.focus();
      return;
    }
    try {
      const session = await call("POST", "/v1/officer/sessions", {
        name: name.value.trim().toLowerCase(), password: password.value,
      });
      setToken(ROLE, session.token);
      location.assign("/officer/");
    } catch (problem) {
      password.value = "";
      fail(problem);
    }
  });
  if (token(ROLE)) location.replace("/officer/");
}

// -- customers ----------------------------------------------------------------------------

let current = null; // the wallet on screen, as the API last showed it

function tierName(tier) {
  return t("officer.tier." + (TIER_NAMES[tier] || "basic"));
}

function showWallet(wallet) {
  current = wallet;
  byId("customer-name").textContent = wallet.name;
  byId("c-handle").textContent = wallet.handle;
  byId("c-account").textContent = wallet.account_id;
  byId("c-phone").textContent = wallet.phone || "—";
  byId("c-birth").textContent = wallet.birth_date || "—";
  byId("c-kind").textContent = t("officer.kind." + wallet.kind);
  byId("c-tier").textContent = tierName(wallet.tier);
  const frozen = wallet.status === "frozen";
  byId("c-status").replaceChildren(
    tag(t("officer.state." + wallet.status), frozen ? "bad" : "good"));
  byId("c-pin").textContent = t(wallet.pin_locked ? "officer.pin.locked" : "officer.pin.usable");
  for (const asset of ["KHR", "USD"]) {
    const box = byId("c-balance-" + asset);
    box.querySelector("[data-amount]").textContent = money(wallet.balances[asset].available, asset);
  }
  const rows = wallet.payments.map((payment) => {
    const key = payment.direction === "in" ? "officer.entry.in" : "officer.entry.out";
    let line = t(key, { who: payment.counterparty });
    if (payment.result !== "ok") line = t("officer.entry.failed", { who: line, result: payment.result });
    const amount = document.createElement("span");
    amount.className = "amount " + (payment.direction === "in" ? "in" : "out");
    amount.textContent = money(payment.amount, payment.asset);
    return item([line, when(payment.time_ms)], amount);
  });
  byId("c-payments").replaceChildren(...rows);
  byId("c-payments-empty").hidden = rows.length > 0;
  const select = byId("tier");
  select.value = String(Math.min(wallet.tier, 2));
  showLimits();
  byId("status-hint").textContent = t(frozen ? "officer.status.hint_frozen" : "officer.status.hint_active");
  byId("freeze").hidden = frozen;
  byId("unfreeze").hidden = !frozen;
  byId("customer").hidden = false;
}

function showLimits() {
  const option = byId("tier").selectedOptions[0];
  byId("tier-limits").textContent = t("officer.tier.limits", {
    khr: money(Number(option.dataset.khr), "KHR"),
    usd: money(Number(option.dataset.usd), "USD"),
  });
}

async function openWallet(handle) {
  showWallet(await call("GET", "/v1/officer/customers/" + encodeURIComponent(handle)));
}

// Errors and confirmations show under the form they answer, where the officer is looking
// (on a phone the wallet's forms are far below the top of the page).
function answerUnder(form) {
  say(error, "");
  say(byId("done"), "");
  form.after(error, byId("done"));
}

// A reason typed in `field`, or null after saying what is missing.
function reasonOf(field) {
  const reason = field.value.trim();
  if (!reason) {
    say(error, t("officer.check.reason"));
    field.focus();
    return null;
  }
  return reason;
}

function confirmed(box, key) {
  if (box.checked) return true;
  say(error, t(key));
  box.focus();
  return false;
}

// Send a change; on success show the wallet as it now is (`changed` applies the answer, so
// the log records the change, not another look at the wallet).
async function act(form, request, changed, doneText) {
  const button = form.querySelector("button:not([hidden])");
  button.disabled = true;
  try {
    const answer = await request();
    for (const field of form.querySelectorAll("textarea")) field.value = "";
    for (const box of form.querySelectorAll("input[type=checkbox]")) box.checked = false;
    showWallet({ ...current, ...changed(answer) });
    say(byId("done"), doneText(), "ok");
  } catch (problem) {
    fail(problem);
  } finally {
    button.disabled = false;
  }
}

function customersPage() {
  if (!requireSession()) return;
  const query = byId("query");
  const find = byId("find");
  find.addEventListener("submit", async (event) => {
    event.preventDefault();
    answerUnder(find);
    const by = document.querySelector("input[name=by]:checked").value;
    let value = query.value.trim();
    if (by !== "phone") value = value.toLowerCase();
    else value = value.replace(/[\s().-]/g, "").replace(/^0/, "+855");
    if (!value) {
      say(error, t("officer.check.query"));
      query.focus();
      return;
    }
    byId("customer").hidden = true;
    try {
      const found = await call("POST", "/v1/officer/customers/search", { [by]: value });
      await openWallet(found.handle);
      byId("customer-name").focus();
    } catch (problem) {
      fail(problem);
    }
  });
  byId("customer-name").tabIndex = -1;
  byId("tier").addEventListener("change", showLimits);

  const tierForm = byId("tier-form");
  tierForm.addEventListener("submit", (event) => {
    event.preventDefault();
    answerUnder(tierForm);
    const tier = Number(byId("tier").value);
    const reason = reasonOf(byId("tier-reason"));
    if (reason === null) return;
    const checked = byId("documents-checked");
    if (tier > current.tier && !confirmed(checked, "officer.check.documents")) return;
    const path = "/v1/officer/customers/" + encodeURIComponent(current.handle) + "/tier";
    act(tierForm, () => call("POST", path, { tier, reason, documents_checked: checked.checked }),
      (answer) => ({ tier: answer.tier }), () => t("officer.tier.done", { tier: tierName(tier) }));
  });

  const statusForm = byId("status-form");
  statusForm.addEventListener("submit", (event) => {
    event.preventDefault();
    answerUnder(statusForm);
    const reason = reasonOf(byId("status-reason"));
    if (reason === null) return;
    const freezing = current.status !== "frozen";
    const path = "/v1/officer/customers/" + encodeURIComponent(current.handle) +
      (freezing ? "/freeze" : "/unfreeze");
    act(statusForm, () => call("POST", path, { reason }),
      (answer) => ({ status: answer.status }),
      () => t(freezing ? "officer.status.done_frozen" : "officer.status.done_active"));
  });

  const pinForm = byId("pin-form");
  pinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    answerUnder(pinForm);
    const reason = reasonOf(byId("pin-reason"));
    if (reason === null) return;
    if (!confirmed(byId("identity-checked"), "officer.check.identity")) return;
    const path = "/v1/officer/customers/" + encodeURIComponent(current.handle) + "/pin-reset";
    act(pinForm, () => call("POST", path, { reason, identity_checked: true }),
      () => ({ pin_locked: false }), () => t("officer.pin.done"));
  });

  reveal().then(() => query.focus()).catch(fail);
}

// -- webhooks -----------------------------------------------------------------------------

const DELIVERY_KIND = { delivered: "good", pending: "warn", failed: "bad" };

function deliveryRow(delivery) {
  const lines = [t("officer.webhooks.entry", {
    merchant: delivery.handle || delivery.merchant, attempts: delivery.attempts,
  })];
  if (delivery.last_status) lines.push(t("officer.webhooks.last", { status: delivery.last_status }));
  if (delivery.delivered_ms) {
    lines.push(t("officer.webhooks.delivered_at", { time: when(delivery.delivered_ms) }));
  }
  if (delivery.next_attempt_ms) {
    lines.push(t("officer.webhooks.next", { time: when(delivery.next_attempt_ms) }));
  }
  lines.push(delivery.event_id);
  return item(lines, tag(t("officer.delivery." + delivery.state), DELIVERY_KIND[delivery.state]));
}

async function loadDeliveries() {
  say(error, "");
  try {
    const log = await call("GET", "/v1/officer/webhooks");
    byId("deliveries").replaceChildren(...log.deliveries.map(deliveryRow));
    byId("deliveries-empty").hidden = log.deliveries.length > 0;
  } catch (problem) {
    fail(problem);
  }
}

function webhooksPage() {
  if (!requireSession()) return;
  byId("refresh").addEventListener("click", loadDeliveries);
  reveal().then(loadDeliveries).catch(fail);
}

// -- the actions log ----------------------------------------------------------------------

function actionRow(action) {
  const lines = [t("officer.action." + action.action)];
  const about = [action.handle, action.detail].filter(Boolean).join(" · ");
  if (about) lines.push(about);
  if (action.reason) lines.push(t("officer.actions.reason", { reason: action.reason }));
  lines.push(t("officer.actions.entry", { time: when(action.time_ms), officer: action.officer }));
  return item(lines);
}

function actionsPage() {
  if (!requireSession()) return;
  const list = byId("actions");
  const more = byId("more");
  let before = null;
  const load = async () => {
    say(error, "");
    const query = "?limit=" + PAGE_SIZE + (before ? "&before=" + before : "");
    try {
      const page = await call("GET", "/v1/officer/actions" + query);
      list.append(...page.actions.map(actionRow));
      byId("actions-empty").hidden = list.children.length > 0;
      before = page.next_before;
      more.hidden = before === null;
    } catch (problem) {
      fail(problem);
    }
  };
  more.addEventListener("click", load);
  reveal().then(load).catch(fail);
}

const pages = {
  signin: signInPage, customers: customersPage, webhooks: webhooksPage, actions: actionsPage,
};
pages[root.dataset.page]();
