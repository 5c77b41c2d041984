// The wallet's link to a bank account at this bank (issue 18, the app's fourth function):
// the linked accounts (masked by the gateway: the last four digits, the holder's initials),
// linking one with its number and the PIN, moving money wallet -> bank or bank -> wallet with
// the PIN, and each transfer's state in words (pending, done, failed or reversed, with why).
//
// - One idempotency key per filled-in move: pressing the button again after a network
//   failure or a wrong PIN sends the same key, so the gateway moves the money at most once;
//   a move that finished (well or not) makes a new key for the next one.
// - A transfer on its way (202) is asked after (`GET /v1/wallet/bank-transfers/{id}`) until
//   it is final, for a bounded while; the list shows it pending meanwhile.
// - A gateway with no core-banking link says so (`available` false) and shows no form.

import { api, explain, idempotencyKey, money, parseAmount, say, t, when } from "./api.js";
import { fail, pinRefusal, requireSession, toggle } from "./wallet.js";

const POLL_MS = 1000;
const POLLS = 60;
const PAGE = 20;
const FINAL = new Set(["completed", "failed", "reversed"]);

const field = (id) => document.getElementById(id);
const error = field("error");
const notice = field("notice");
const moveForm = field("move-form");
const linkForm = field("link-form");
let links = [];
let moveKey = null;

function transferState(transfer) {
  const reason = transfer.reason ? explain({ code: transfer.reason }) : "";
  if (transfer.state === "completed") {
    return t("wallet.bank.state_completed", { date: when(transfer.finished_ms || transfer.created_ms) });
  }
  if (transfer.state === "failed") return t("wallet.bank.state_failed", { reason });
  if (transfer.state === "reversed") return t("wallet.bank.state_reversed", { reason });
  return t("wallet.bank.state_pending", { date: when(transfer.created_ms) });
}

function transferRow(transfer) {
  const toBank = transfer.direction === "to_bank";
  const item = document.createElement("li");
  item.className = "entry";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = t(toBank ? "wallet.bank.row_to" : "wallet.bank.row_from", {
    account: transfer.account_masked,
  });
  who.append(document.createElement("br"));
  const state = document.createElement("span");
  state.className = "small transfer-state " + transfer.state;
  state.textContent = transferState(transfer);
  who.append(state);
  const amount = document.createElement("span");
  const moved = transfer.state === "completed";
  amount.className = "amount " + (moved ? (toBank ? "out" : "in") : "muted");
  amount.textContent = (moved ? (toBank ? "−" : "+") : "") + money(transfer.amount, transfer.asset);
  item.append(who, amount);
  return item;
}

function linkRow(link) {
  const item = document.createElement("li");
  item.className = "entry";
  const text = document.createElement("span");
  text.className = "who mono";
  text.textContent = t("wallet.bank.account_row", {
    account: link.account_masked,
    holder: link.holder_masked,
    asset: link.asset,
  });
  const unlink = document.createElement("button");
  unlink.type = "button";
  unlink.className = "button";
  unlink.textContent = t("wallet.bank.unlink");
  unlink.setAttribute("aria-label", t("wallet.bank.unlink_label", { account: link.account_masked }));
  unlink.addEventListener("click", () => removeLink(link, unlink));
  item.append(text, unlink);
  return item;
}

function assetOfChosen() {
  const chosen = links.find((link) => link.link_id === field("move-link").value);
  return chosen ? chosen.asset : "KHR";
}

function showLinks() {
  field("links").replaceChildren(...links.map(linkRow));
  field("links-empty").hidden = links.length > 0;
  const select = field("move-link");
  const before = select.value;
  select.replaceChildren(...links.map((link) => {
    const option = document.createElement("option");
    option.value = link.link_id;
    option.textContent = link.account_masked + " · " + link.asset;
    return option;
  }));
  if (links.some((link) => link.link_id === before)) select.value = before;
  field("move-asset").textContent = assetOfChosen();
  moveForm.hidden = links.length === 0;
}

async function loadTransfers() {
  const page = await api("GET", "/v1/wallet/bank-transfers?limit=" + PAGE);
  field("transfers").replaceChildren(...page.transfers.map(transferRow));
  field("transfers-empty").hidden = page.transfers.length > 0;
}

async function load() {
  const answer = await api("GET", "/v1/wallet/bank-accounts");
  if (!answer.available) {
    field("unavailable").hidden = false;
    return;
  }
  links = answer.accounts;
  showLinks();
  linkForm.hidden = false;
  toggle("bank", true);
  await loadTransfers();
}

async function removeLink(link, button) {
  say(error, "");
  button.disabled = true;
  try {
    await api("DELETE", "/v1/wallet/bank-accounts/" + encodeURIComponent(link.link_id));
    links = links.filter((each) => each.link_id !== link.link_id);
    showLinks();
    say(notice, t("wallet.bank.unlinked", { account: link.account_masked }), "ok");
    field("links-title").focus();
  } catch (problem) {
    button.disabled = false;
    fail(problem, error);
  }
}

function clearInvalid(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say(error, "");
  say(notice, "");
}

function invalid(id, message) {
  field(id).setAttribute("aria-invalid", "true");
  say(error, message);
  field(id).focus();
}

function pinOf(id) {
  const pin = field(id).value;
  if (!/^[0-9]{6,12}$/.test(pin)) {
    invalid(id, t("wallet.check.pin"));
    return null;
  }
  field(id).value = "";
  return pin;
}

function refused(problem, pinField) {
  if (problem.code === "unauthenticated") return fail(problem, error);
  say(error, pinRefusal(problem));
  if (problem.code === "login_failed") field(pinField).setAttribute("aria-invalid", "true");
  field(pinField).focus();
}

linkForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearInvalid(linkForm);
  const number = field("account-number").value.replace(/[\s-]/g, "");
  if (!/^[0-9]{6,20}$/.test(number)) return invalid("account-number", t("wallet.check.account_number"));
  const pin = pinOf("link-pin");
  if (pin === null) return;
  field("link-submit").disabled = true;
  try {
    const answer = await api("POST", "/v1/wallet/bank-accounts", { account_number: number, pin });
    if (!links.some((link) => link.link_id === answer.link.link_id)) links = [...links, answer.link];
    showLinks();
    field("account-number").value = "";
    say(notice, t("wallet.bank.linked", { account: answer.link.account_masked }), "ok");
    field("move-title").focus();
  } catch (problem) {
    refused(problem, "link-pin");
  } finally {
    field("link-submit").disabled = false;
  }
});

async function settle(transfer) {
  let found = transfer;
  for (let poll = 0; !FINAL.has(found.state) && poll < POLLS; poll += 1) {
    say(notice, t("wallet.bank.pending"), "info");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    found = (await api("GET", "/v1/wallet/bank-transfers/" + encodeURIComponent(found.transfer_id)))
      .transfer;
  }
  return found;
}

function finished(transfer) {
  const amount = money(transfer.amount, transfer.asset);
  const params = { amount, account: transfer.account_masked };
  if (transfer.state === "completed") {
    say(notice, t(transfer.direction === "to_bank" ? "wallet.bank.done_to" : "wallet.bank.done_from",
      params), "ok");
    field("move-amount").value = "";
  } else if (FINAL.has(transfer.state)) {
    say(error, explain({ code: transfer.reason || "bank_refused" }));
  }
}

moveForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearInvalid(moveForm);
  const asset = assetOfChosen();
  const amount = parseAmount(field("move-amount").value, asset);
  if (amount === null) return invalid("move-amount", t("wallet.check.amount"));
  const pin = pinOf("move-pin");
  if (pin === null) return;
  const button = field("move-submit");
  button.disabled = true;
  button.textContent = t("wallet.bank.moving");
  moveKey = moveKey || idempotencyKey("bank");
  const body = {
    idempotency_key: moveKey,
    link_id: field("move-link").value,
    direction: moveForm.querySelector("input[name=direction]:checked").value,
    amount,
    pin,
  };
  try {
    const answer = await api("POST", "/v1/wallet/bank-transfers", body);
    moveKey = null;
    finished(await settle(answer.transfer));
  } catch (problem) {
    // A refusal after the transfer was stored (422) is final: the next move is another one.
    if (problem.status === 422) moveKey = null;
    refused(problem, "move-pin");
  } finally {
    button.disabled = false;
    button.textContent = t("wallet.bank.move");
    loadTransfers().catch((problem) => fail(problem, error));
  }
});

// Another amount, account or direction is another move: a new key.
for (const input of moveForm.querySelectorAll("select, input[name=direction], #move-amount")) {
  input.addEventListener("change", () => {
    moveKey = null;
    field("move-asset").textContent = assetOfChosen();
  });
}

if (requireSession()) load().catch((problem) => fail(problem, error));
