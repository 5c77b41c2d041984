// The wallet's home: balances, recent activity, and money arriving live.
//
// The balances and the activity are read from the API; then the page listens to `/v1/events`
// and, for each payment that arrives, reads them again (the API is the truth: an event only
// says that something changed) and says what arrived. A dropped stream is reopened with a
// growing pause, and the page reads everything again then, so nothing that arrived while it
// was closed is missed. `data-live` on <main> is "open" while the stream is.
//
// "Money waiting for you": money this bank holds for the wallet's phone, sent before the
// wallet existed (`GET /v1/wallet/claims/waiting`), is listed above the balances with the way
// to claim it; read with the rest, so a claim that lands takes its line away.

import { api, events, money, say, t } from "./api.js";
import { entryRow, fail, requireSession, reveal, signOut, waitingRow } from "./wallet.js";

const RECENT = 5;
const RETRY_MS = [1000, 2000, 5000, 10000, 15000];

const main = document.getElementById("main");
const notice = document.getElementById("notice");
const live = document.getElementById("live");

function showBalance(asset, balance) {
  const box = document.getElementById("balance-" + asset);
  box.querySelector("[data-amount]").textContent = money(balance.available, asset);
  const held = box.querySelector("[data-held]");
  held.hidden = balance.held === 0;
  held.textContent = balance.held ? t("wallet.home.held", { amount: money(balance.held, asset) }) : "";
}

function showWaiting(claims) {
  document.getElementById("waiting-list").replaceChildren(...claims.map(waitingRow));
  document.getElementById("waiting").hidden = claims.length === 0;
}

async function load() {
  const [wallet, history, waiting] = await Promise.all([
    api("GET", "/v1/wallet"),
    api("GET", "/v1/wallet/history?limit=" + RECENT),
    api("GET", "/v1/wallet/claims/waiting"),
  ]);
  showWaiting(waiting.claims);
  document.getElementById("account").textContent = t("wallet.home.account", {
    account: wallet.account_id,
  });
  for (const asset of ["KHR", "USD"]) showBalance(asset, wallet.balances[asset]);
  const list = document.getElementById("recent");
  list.replaceChildren(...history.entries.map(entryRow));
  document.getElementById("recent-empty").hidden = history.entries.length > 0;
  reveal();
  say(notice, "");
}

function arrived(event) {
  const payment = JSON.parse(event.data);
  say(live, t("wallet.live.received", {
    amount: money(payment.amount, payment.asset),
    from: payment.from,
  }), "ok");
  const box = document.getElementById("balance-" + payment.asset);
  if (box) {
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation
    box.classList.add("flash");
  }
}

async function listen() {
  const seen = new Set();
  let failures = 0;
  for (;;) {
    try {
      await events("/v1/events", (event) => {
        if (event.event !== "payment" || seen.has(event.id)) return;
        seen.add(event.id);
        arrived(event);
        load().catch((error) => fail(error, notice));
      }, undefined, "customer", () => {
        main.dataset.live = "open";
        if (failures > 0) load().catch((error) => fail(error, notice));
        failures = 0;
      });
    } catch (error) {
      if (error.code === "unauthenticated") return fail(error, notice);
    }
    main.dataset.live = "closed";
    const pause = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
    failures += 1;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

if (requireSession()) {
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("offline", () => say(notice, t("common.offline"), "info"));
  window.addEventListener("online", () => load().catch((error) => fail(error, notice)));
  load().catch((error) => fail(error, notice));
  listen();
}
