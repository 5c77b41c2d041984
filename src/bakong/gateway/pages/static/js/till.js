// The merchant's till (`/till/...`): sign in, charge by dynamic KHQR, see the day's sales.
//
// - The session is the bearer token of role `merchant` in sessionStorage (`api.js`); a page
//   that needs one and has none goes to the till's sign-in. Signing in with a personal
//   wallet's PIN is refused here (and that session ended at once): the till is for shops.
// - Charging: the typed amount becomes integer minor units without a float (`parseAmount`);
//   the code is made with its picture (`image: "svg"`) and shown over the whole screen with
//   its countdown. The till listens to `/v1/events` all the time it is open: a `khqr_paid`
//   event naming the code on screen turns the screen "paid" at once. After the stream
//   reconnects, and when the countdown reaches zero, the code's state is asked for
//   (`GET /v1/merchant/codes/{md5}`), so a payment made while the stream was down still shows.
// - Sales: a day's totals per currency and its payments; the store card downloads as PNG or
//   PDF (fetched with the token, saved from a blob: URL).
// - Everything the API returns is written with textContent, never parsed as HTML.

import { api, events, explain, money, parseAmount, say, setToken, t, token, when } from "./api.js";

const ROLE = "merchant";
const RECONNECT_MS = [1_000, 2_000, 5_000, 10_000];
const root = document.getElementById("till");
const byId = (id) => document.getElementById(id);
const error = byId("error");

function signInPath() {
  return "/till/signin";
}

function requireSession() {
  if (token(ROLE)) return true;
  location.replace(signInPath());
  return false;
}

function fail(problem, element = error) {
  if (problem && problem.name === "AbortError") return;
  if (problem && problem.code === "unauthenticated") {
    setToken(ROLE, null);
    location.replace(signInPath());
    return;
  }
  say(element, explain(problem || {}));
}

async function signOut() {
  try {
    await api("DELETE", "/v1/sessions", undefined, { role: ROLE });
  } catch (_) {
    // Ended already, or the bank is unreachable: the token is forgotten here either way.
  }
  setToken(ROLE, null);
  location.assign(signInPath());
}

function reveal() {
  for (const element of document.querySelectorAll("[data-signed-in]")) element.hidden = false;
  const button = byId("sign-out");
  if (button) button.addEventListener("click", signOut);
}

// The till's shop name in the page's heading (the Khmer name on a Khmer page, when set).
async function showShop() {
  const shop = await api("GET", "/v1/merchant", undefined, { role: ROLE });
  const heading = byId("shop");
  const khmer = document.documentElement.lang === "km" && shop.name_km;
  if (heading) heading.textContent = khmer ? shop.name_km : shop.name;
  return shop;
}

// Listen to the till's events for as long as the page is open, reconnecting after a drop.
function listen(onEvent, onReconnect) {
  let attempt = 0;
  const loop = async () => {
    for (;;) {
      try {
        await events("/v1/events", onEvent, undefined, ROLE, () => {
          if (attempt > 0) onReconnect();
          attempt = 0;
        });
      } catch (problem) {
        if (problem && problem.code === "unauthenticated") {
          fail(problem);
          return;
        }
      }
      const wait = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)];
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  loop();
}

// -- sign in ------------------------------------------------------------------------------

function e164(text) {
  let digits = String(text).trim().replace(/[\s().-]/g, "");
  if (digits.startsWith("00")) digits = "+" + digits.slice(2);
  else if (digits.startsWith("0")) digits = "+855" + digits.slice(1);
  else if (digits.startsWith("855")) digits = "+" + digits;
  return /^\+[1-9][0-9]{7,14}$/.test(digits) ? digits : null;
}

function signInPage() {
  const form = byId("signin");
  const who = byId("who");
  const pin = byId("pin");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error, "");
    const typed = who.value.trim().toLowerCase();
    const phone = /^[+0-9]/.test(typed) ? e164(typed) : null;
    const handle = /^[a-z0-9_.]{3,28}$/.test(typed) ? typed : null;
    if (!phone && !handle) {
      say(error, t("till.check.who"));
      who.focus();
      return;
    }
    if (!/^[0-9]{6,12}$/.test(pin.value)) {
      say(error, t("till.check.pin"));
      pin.focus();
      return;
    }
    const body = phone ? { phone, pin: pin.value } : { handle, pin: pin.value };
    try {
      const session = await api("POST", "/v1/sessions", body, { role: ROLE });
      setToken(ROLE, session.token);
      if (session.role !== "merchant") {
        await signOutQuietly();
        say(error, explain({ code: "not_a_merchant" }));
        return;
      }
      location.assign("/till/");
    } catch (problem) {
      pin.value = "";
      fail(problem);
    }
  });
  if (token(ROLE)) location.replace("/till/");
}

async function signOutQuietly() {
  try {
    await api("DELETE", "/v1/sessions", undefined, { role: ROLE });
  } catch (_) {
    // The session was never wanted: whether or not it ends now, it is forgotten.
  }
  setToken(ROLE, null);
}

// -- charge -------------------------------------------------------------------------------

// The sale on screen. `deadline` is the code's expiry on this device's clock: its lifetime
// counted from the answer, so a till whose clock is off still counts down right.
const sale = { code: null, amount: 0, asset: "KHR", timer: null, image: null, deadline: 0 };

function show(state) {
  for (const id of ["waiting", "paid", "expired"]) byId(id).hidden = id !== state;
  byId("screen").hidden = state === null;
  for (const element of document.querySelectorAll("[data-signed-in]")) {
    element.inert = state !== null;
  }
}

function stopTimer() {
  if (sale.timer) clearInterval(sale.timer);
  sale.timer = null;
}

function clock(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return minutes + ":" + String(seconds % 60).padStart(2, "0");
}

async function makeCode() {
  say(error, "");
  const lifetime = Number(root.dataset.lifetimeMs);
  const code = await api("POST", "/v1/merchant/codes", {
    asset: sale.asset, amount: sale.amount, expires_in_ms: lifetime, image: "svg",
  }, { role: ROLE });
  sale.deadline = Date.now() + lifetime;
  if (sale.image) URL.revokeObjectURL(sale.image);
  sale.image = URL.createObjectURL(new Blob([code.svg], { type: "image/svg+xml" }));
  sale.code = code;
  const image = byId("screen-qr");
  image.src = sale.image;
  image.alt = t("till.screen.qr_alt", { amount: money(sale.amount, sale.asset) });
  byId("screen-amount").textContent = money(sale.amount, sale.asset);
  show("waiting");
  byId("cancel").focus();
  tick();
  stopTimer();
  sale.timer = setInterval(tick, 1000);
}

function tick() {
  if (!sale.code) return;
  const left = sale.deadline - Date.now();
  const countdown = byId("screen-countdown");
  countdown.textContent = clock(left);
  countdown.classList.toggle("low", left < 60_000);
  if (left <= 0) {
    stopTimer();
    checkCode(true);
  }
}

// Where the code on screen stands, asked of the gateway (after a reconnect, or at expiry).
async function checkCode(expiring) {
  const code = sale.code;
  if (!code) return;
  try {
    const state = await api("GET", "/v1/merchant/codes/" + code.md5, undefined, { role: ROLE });
    if (sale.code !== code) return;
    if (state.paid) showPaid(state);
    else if (expiring) showExpired();
  } catch (problem) {
    if (expiring && sale.code === code) showExpired();
    fail(problem);
  }
}

function showPaid(paid) {
  stopTimer();
  sale.code = null;
  byId("paid-amount").textContent = money(paid.amount, paid.asset);
  byId("paid-from").textContent = t("till.screen.from", { bank: paid.from_bank || "" });
  byId("paid-account").textContent = paid.from || "";
  show("paid");
  byId("next-sale").focus();
}

function showExpired() {
  sale.code = null;
  byId("expired-amount").textContent = money(sale.amount, sale.asset);
  show("expired");
  byId("new-code").focus();
}

function closeScreen() {
  stopTimer();
  sale.code = null;
  show(null);
  const amount = byId("amount");
  amount.value = "";
  amount.focus();
}

function onTillEvent(event) {
  if (event.event !== "khqr_paid") return;
  const paid = JSON.parse(event.data);
  if (sale.code && paid.md5 === sale.code.md5) {
    showPaid(paid);
    return;
  }
  // A code put away before it was paid: the shop still hears of the money.
  say(byId("notice"), t("till.notice.earlier_paid", {
    amount: money(paid.amount, paid.asset), bank: paid.from_bank,
  }), "ok");
}

function chargePage() {
  if (!requireSession()) return;
  const form = byId("charge");
  const input = byId("amount");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error, "");
    input.removeAttribute("aria-invalid");
    const asset = form.querySelector("input[name=asset]:checked").value;
    const amount = parseAmount(input.value, asset);
    if (amount === null) {
      input.setAttribute("aria-invalid", "true");
      say(error, t("till.check.amount"));
      input.focus();
      return;
    }
    sale.amount = amount;
    sale.asset = asset;
    try {
      await makeCode();
    } catch (problem) {
      fail(problem);
    }
  });
  byId("cancel").addEventListener("click", closeScreen);
  byId("expired-cancel").addEventListener("click", closeScreen);
  byId("next-sale").addEventListener("click", closeScreen);
  byId("new-code").addEventListener("click", async () => {
    try {
      await makeCode();
    } catch (problem) {
      closeScreen();
      fail(problem);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !byId("screen").hidden) closeScreen();
  });
  showShop()
    .then(() => {
      reveal();
      input.focus();
      listen(onTillEvent, () => checkCode(false));
    })
    .catch((problem) => fail(problem));
}

// -- sales --------------------------------------------------------------------------------

function phnomPenhToday() {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Phnom_Penh" }).format(new Date());
}

function paymentRow(payment) {
  const item = document.createElement("li");
  item.className = "entry";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = t("till.sales.entry", { time: when(payment.time_ms), bank: payment.from_bank });
  const amount = document.createElement("span");
  amount.className = "amount in";
  amount.textContent = money(payment.amount, payment.asset);
  item.append(who, amount);
  return item;
}

async function loadSales(day) {
  say(error, "");
  try {
    const sales = await api("GET", "/v1/merchant/sales?date=" + encodeURIComponent(day),
      undefined, { role: ROLE });
    for (const asset of ["KHR", "USD"]) {
      const total = sales.totals[asset];
      const box = byId("total-" + asset);
      box.querySelector("[data-amount]").textContent = money(total.amount, asset);
      box.querySelector("[data-count]").textContent = t("till.sales.count", { count: total.count });
    }
    byId("payments").replaceChildren(...sales.payments.map(paymentRow));
    byId("payments-empty").hidden = sales.payments.length > 0;
    byId("payments-partial").hidden = sales.complete;
  } catch (problem) {
    fail(problem);
  }
}

async function download(kind) {
  say(error, "");
  const asset = document.querySelector("input[name=card-asset]:checked").value;
  try {
    const blob = await api("GET", "/v1/merchant/card." + kind + "?asset=" + asset, undefined,
      { role: ROLE, blob: true });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = "khqr-store-card-" + asset.toLowerCase() + "." + kind;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (problem) {
    fail(problem);
  }
}

function salesPage() {
  if (!requireSession()) return;
  const day = byId("day");
  const today = phnomPenhToday();
  day.value = today;
  day.max = today;
  day.addEventListener("change", () => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(day.value)) loadSales(day.value);
  });
  byId("day-form").addEventListener("submit", (event) => event.preventDefault());
  byId("card-png").addEventListener("click", () => download("png"));
  byId("card-pdf").addEventListener("click", () => download("pdf"));
  reveal();
  loadSales(today);
  // Money arriving today shows at once in today's totals.
  listen((event) => {
    if (event.event === "payment" && day.value === phnomPenhToday()) loadSales(day.value);
  }, () => loadSales(day.value));
}

const pages = { signin: signInPage, charge: chargePage, sales: salesPage };
pages[root.dataset.page]();
