// "My QR": the customer's static KHQR (the payer types the amount) in riel or dollars, and a
// one-time code for an amount, with its expiry counting down. The static image is fetched
// with the session's token and shown from a blob: URL (an <img src> cannot send the token);
// the one-time code comes drawn as SVG in the API's answer. While a one-time code is shown
// the page listens to `/v1/events` and says "paid" when its `khqr_paid` event arrives.

import { api, events, money, parseAmount, say, t } from "./api.js";
import { countdownText, fail, requireSession } from "./wallet.js";

const LIFETIME_MS = 5 * 60_000;
const field = (id) => document.getElementById(id);
const error = field("error");
const form = field("request-form");
let timer = null;
let listening = null;
let waitingFor = null; // the md5 of the one-time code on screen
const urls = new Map();

function showImage(img, key, blob) {
  if (urls.has(key)) URL.revokeObjectURL(urls.get(key));
  const url = URL.createObjectURL(blob);
  urls.set(key, url);
  img.src = url;
  img.hidden = false;
}

async function loadStatic() {
  const asset = document.querySelector("input[name=static-asset]:checked").value;
  try {
    const [image, wallet] = await Promise.all([
      api("GET", "/v1/wallet/qr?format=svg&asset=" + asset, undefined, { blob: true }),
      api("GET", "/v1/wallet"),
    ]);
    showImage(field("static-qr"), "static", image);
    field("static-account").textContent = wallet.account_id;
  } catch (problem) {
    fail(problem, error);
  }
}

function tick(expiresMs) {
  const clock = field("request-expiry");
  clock.textContent = countdownText(expiresMs);
  if (expiresMs - Date.now() <= 0) {
    clearInterval(timer);
    timer = null;
    clock.classList.add("low");
    if (waitingFor) say(field("request-paid"), t("wallet.qr.expired"));
    waitingFor = null;
  }
}

function listen() {
  if (listening) return;
  listening = new AbortController();
  events("/v1/events", (event) => {
    if (event.event !== "khqr_paid") return;
    const paid = JSON.parse(event.data);
    if (paid.md5 !== waitingFor) return;
    waitingFor = null;
    clearInterval(timer);
    timer = null;
    say(field("request-paid"), t("wallet.qr.paid", {
      amount: money(paid.amount, paid.asset),
      from: paid.from,
    }), "ok");
  }, listening.signal).catch(() => {
    listening = null; // closed: the next code opens it again
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  say(error, "");
  const input = field("amount");
  input.removeAttribute("aria-invalid");
  const asset = form.querySelector("input[name=asset]:checked").value;
  const amount = parseAmount(input.value, asset);
  if (amount === null) {
    input.setAttribute("aria-invalid", "true");
    say(error, t("wallet.check.amount"));
    input.focus();
    return;
  }
  try {
    const code = await api("POST", "/v1/wallet/request", {
      amount, asset, lifetime_ms: LIFETIME_MS, image: "svg",
    });
    const image = field("request-qr");
    showImage(image, "request", new Blob([code.svg], { type: "image/svg+xml" }));
    image.alt = t("wallet.qr.request_alt", { amount: money(amount, asset) });
    field("request-amount").textContent = money(amount, asset);
    say(field("request-paid"), "");
    field("request-expiry").classList.remove("low");
    field("request-result").hidden = false;
    waitingFor = code.md5;
    listen();
    if (timer) clearInterval(timer);
    tick(code.expires_ms);
    timer = setInterval(() => tick(code.expires_ms), 1000);
  } catch (problem) {
    fail(problem, error);
  }
});

for (const radio of document.querySelectorAll("input[name=static-asset]")) {
  radio.addEventListener("change", loadStatic);
}

if (requireSession()) loadStatic();
