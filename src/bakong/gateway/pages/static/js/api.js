// The pages' one way to the gateway's JSON API, and what every page script shares.
//
// - `api(method, path, body, options)`: a JSON request with the session's bearer token (from
//   sessionStorage, key `bakong.token.<role>`, never a URL or a cookie). Resolves with the
//   decoded answer (2xx); rejects with an `ApiError` whose `code` is the gateway's error code
//   (`insufficient_funds`, `login_failed`, ...) or `network` when the gateway cannot be
//   reached, carrying every other field of the error body (`limit`, `remaining`,
//   `attempts_left`, ...) and `status`. A Blob body is sent as it is (an image to scan).
// - `events(path, onEvent, signal, role)`: server-sent events read with fetch and a stream
//   reader (EventSource cannot send the Authorization header). Calls `onEvent({id, event,
//   data})` per event (and `onOpen()` once the stream is open); resolves when the stream ends,
//   rejects with an ApiError when it cannot open. Reconnecting (and catching up) is the
//   caller's.
// - `t(key, params)`: the page's messages, from the `<script type="application/json"
//   id="messages">` block the server rendered in the page's language; `{name}` placeholders.
// - Money: amounts are integers in minor units (whole riel, US cents) end to end: `money`
//   formats them, `parseAmount` reads what a person typed without ever using a float.

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || body.code || "error");
    Object.assign(this, body);
    this.status = status;
    this.code = body.code || "http_" + status;
  }
}

function tokenKey(role) {
  return "bakong.token." + role;
}

export function token(role = "customer") {
  return sessionStorage.getItem(tokenKey(role));
}

export function setToken(role, value) {
  if (value) sessionStorage.setItem(tokenKey(role), value);
  else sessionStorage.removeItem(tokenKey(role));
}

async function errorOf(response) {
  let decoded = null;
  try {
    decoded = await response.json();
  } catch (_) {
    decoded = null;
  }
  const error = decoded && typeof decoded.error === "object" ? decoded.error : {};
  const body = { ...error };
  if (decoded && decoded.payment) body.payment = decoded.payment;
  return new ApiError(response.status, body);
}

export async function api(method, path, body = undefined, options = {}) {
  const role = options.role || "customer";
  const headers = { Accept: "application/json" };
  const bearer = token(role);
  if (bearer) headers.Authorization = "Bearer " + bearer;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers["Content-Type"] = body.type || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: payload,
      signal: options.signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network", message: String(error.message || error) });
  }
  if (!response.ok) throw await errorOf(response);
  if (options.blob) return response.blob();
  if (response.status === 204) return null;
  const answer = await response.json();
  if (answer && typeof answer === "object" && !Array.isArray(answer)) {
    Object.defineProperty(answer, "httpStatus", { value: response.status });
  }
  return answer;
}

function parseEvent(block) {
  const event = { id: "", event: "message", data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
  }
  if (data.length === 0) return null;
  event.data = data.join("\n");
  return event;
}

export async function events(path, onEvent, signal, role = "customer", onOpen = null) {
  const headers = { Accept: "text/event-stream" };
  const bearer = token(role);
  if (bearer) headers.Authorization = "Bearer " + bearer;
  let response;
  try {
    response = await fetch(path, { headers, signal, cache: "no-store" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network", message: String(error.message || error) });
  }
  if (!response.ok) throw await errorOf(response);
  if (onOpen) onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const parsed = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed) onEvent(parsed);
      end = buffer.indexOf("\n\n");
    }
  }
}

// -- the page's messages ------------------------------------------------------------------

let catalog = null;

export function t(key, params = {}) {
  if (catalog === null) {
    const block = document.getElementById("messages");
    catalog = block ? JSON.parse(block.textContent) : {};
  }
  const text = Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

// The message for an ApiError: `error.<code>` of the page's catalogs when there is one
// (filled with the error's own fields), else the common fallback.
export function explain(error) {
  const key = "error." + error.code;
  const fields = { ...error };
  if (typeof error.limit === "number" && error.asset) {
    fields.limit = money(error.limit, error.asset);
    fields.remaining = money(error.remaining || 0, error.asset);
  }
  const text = t(key, fields);
  return text === key ? t("common.error.unknown") : text;
}

export function lang() {
  return document.documentElement.lang || "en";
}

// -- money --------------------------------------------------------------------------------

export const EXPONENT = { KHR: 0, USD: 2 };
const SYMBOL = { KHR: "៛", USD: "$" };

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// "12,500 ៛" or "$12.50": minor units as a person reads them (no floats involved).
export function money(amount, asset) {
  const exponent = EXPONENT[asset] ?? 0;
  const negative = amount < 0;
  const digits = String(Math.abs(amount)).padStart(exponent + 1, "0");
  const whole = group(digits.slice(0, digits.length - exponent));
  const text = exponent ? whole + "." + digits.slice(digits.length - exponent) : whole;
  const sign = negative ? "−" : "";
  return asset === "USD" ? sign + SYMBOL.USD + text : sign + text + " " + SYMBOL.KHR;
}

// What a person typed ("12.5", "12,500") in minor units, or null when it is not an amount.
export function parseAmount(text, asset) {
  const exponent = EXPONENT[asset] ?? 0;
  const cleaned = String(text).trim().replace(/[,\s]/g, "");
  const pattern = exponent ? new RegExp("^(\\d+)(?:\\.(\\d{1," + exponent + "}))?$") : /^(\d+)$/;
  const found = pattern.exec(cleaned);
  if (!found) return null;
  const fraction = (found[2] || "").padEnd(exponent, "0");
  const units = BigInt(found[1]) * 10n ** BigInt(exponent) + BigInt(fraction || "0");
  if (units <= 0n || units > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(units);
}

// A time in Phnom Penh (UTC+7, no daylight saving) as "2 Dec 2024, 07:42" or "2 ធ្នូ 2024 07:42".
// Written here rather than by Intl: browsers' Khmer locale data is often missing.
const MONTHS = {
  en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  km: ["មករា", "កុម្ភៈ", "មីនា", "មេសា", "ឧសភា", "មិថុនា", "កក្កដា", "សីហា", "កញ្ញា", "តុលា",
    "វិច្ឆិកា", "ធ្នូ"],
};
const PHNOM_PENH_MS = 7 * 3_600_000;

export function when(ms) {
  const local = new Date(ms + PHNOM_PENH_MS);
  const months = MONTHS[lang()] || MONTHS.en;
  const time = String(local.getUTCHours()).padStart(2, "0") + ":" +
    String(local.getUTCMinutes()).padStart(2, "0");
  const day = local.getUTCDate() + " " + months[local.getUTCMonth()] + " " + local.getUTCFullYear();
  return lang() === "km" ? day + " " + time : day + ", " + time;
}

// A fresh key for a payment: the same key sent again pays once.
export function idempotencyKey(prefix = "web") {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Show `text` in an alert element (role="alert" is announced), or clear it.
export function say(element, text, kind = "") {
  element.className = "alert" + (kind ? " " + kind : "");
  element.textContent = text || "";
  element.hidden = !text;
}
