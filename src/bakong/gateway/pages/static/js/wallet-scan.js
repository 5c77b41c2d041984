// Pay by scanning a KHQR: the camera (decoded in the page by `scanner.js`), or a photo of the
// code, read in the page and, when the page cannot read it, by the gateway
// (`POST /v1/payments/scan`). Then the same confirm step as "send", with the shop's name, the
// amount and currency, and a dynamic code's expiry counting down. A code without an amount
// (a shop's static code) asks for one first, in the code's currency.
// A code that is not a KHQR may be a foreign shop's: `wallet-foreign.js` pays it abroad.

import { ApiError, api, parseAmount, say, t } from "./api.js";
import { readKhqr } from "./wallet-khqr.js";
import { payForeign } from "./wallet-foreign.js";
import { confirm } from "./wallet-pay.js";
import { fail, requireSession } from "./wallet.js";

const field = (id) => document.getElementById(id);
const error = field("error");
const status = field("scan-status");
const video = field("camera");
const amountStep = field("amount-step");
let camera = null; // the AbortController of a running camera scan
let scanned = null; // {text, code} of the KHQR being paid

async function scanner() {
  try {
    return await import("./scanner.js");
  } catch (_) {
    return null; // no in-page decoder: the gateway reads photos, the camera is unavailable
  }
}

function stopCamera() {
  if (camera) camera.abort();
  camera = null;
  video.hidden = true;
  field("start-camera").hidden = false;
  field("stop-camera").hidden = true;
}

function resetScanner() {
  field("scanner").hidden = false;
  amountStep.hidden = true;
  status.textContent = t("wallet.scan.intro");
}

async function preview(text, code, amount) {
  const request = { to: { khqr: text } };
  if (amount !== null) {
    request.amount = amount;
    request.asset = code.asset;
  }
  const found = await api("POST", "/v1/payments/preview", request);
  field("scanner").hidden = true;
  amountStep.hidden = true;
  confirm(found, { ...request, amount: found.amount, asset: found.asset, memo: "" }, {
    merchant: code.merchant,
    expiresMs: code.expiresMs,
    onCancel: resetScanner,
  });
}

async function chosen(text) {
  stopCamera();
  say(error, "");
  const code = readKhqr(text);
  if (!code) {
    // Not a KHQR: the gateway says whether it is a foreign shop's code it pays abroad.
    const hide = () => { field("scanner").hidden = true; };
    if (await payForeign(text, { onShown: hide, onCancel: resetScanner })) return;
    say(error, t("wallet.scan.not_khqr"));
    return;
  }
  scanned = { text, code };
  if (code.amount === null) {
    field("amount-for").textContent = t("wallet.scan.amount_for", {
      name: code.merchant || code.account,
    });
    field("amount-asset").textContent = code.asset;
    field("scanner").hidden = true;
    amountStep.hidden = false;
    field("amount").focus();
    return;
  }
  await preview(text, code, null);
}

// Why the camera could not be used (scanner.js's ScanError codes), in words.
function cameraTrouble(problem) {
  const key = "wallet.scan." + (problem && problem.code);
  const text = t(key);
  return text === key ? t("wallet.scan.no_camera") : text;
}

async function useCamera() {
  say(error, "");
  const module = await scanner();
  if (!module || !navigator.mediaDevices) {
    say(error, t("wallet.scan.no_camera"));
    return;
  }
  camera = new AbortController();
  video.hidden = false;
  field("start-camera").hidden = true;
  field("stop-camera").hidden = false;
  status.textContent = t("wallet.scan.looking");
  try {
    await chosen(await module.scanCamera(video, camera.signal));
  } catch (problem) {
    stopCamera();
    if (problem && problem.name === "AbortError") {
      status.textContent = t("wallet.scan.intro");
      return;
    }
    if (problem instanceof ApiError) fail(problem, error);
    else say(error, cameraTrouble(problem)); // the photo remains

  }
}

async function usePhoto(file) {
  say(error, "");
  stopCamera();
  status.textContent = t("wallet.scan.reading");
  try {
    const module = await scanner();
    let text = module ? await module.scanFile(file).catch(() => null) : null;
    if (!text) text = (await api("POST", "/v1/payments/scan", file)).khqr;
    status.textContent = t("wallet.scan.intro");
    await chosen(text);
  } catch (problem) {
    status.textContent = t("wallet.scan.intro");
    fail(problem, error);
  } finally {
    field("photo").value = "";
  }
}

field("start-camera").addEventListener("click", () => useCamera());
field("stop-camera").addEventListener("click", stopCamera);
field("photo").addEventListener("change", (event) => {
  const file = event.target.files && event.target.files[0];
  if (file) usePhoto(file);
});

amountStep.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = field("amount");
  input.removeAttribute("aria-invalid");
  const amount = parseAmount(input.value, scanned.code.asset);
  if (amount === null) {
    input.setAttribute("aria-invalid", "true");
    say(error, t("wallet.check.amount"));
    input.focus();
    return;
  }
  try {
    await preview(scanned.text, scanned.code, amount);
  } catch (problem) {
    fail(problem, error);
  }
});

requireSession();
