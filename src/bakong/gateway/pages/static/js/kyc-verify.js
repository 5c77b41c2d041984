// "Verify my identity" (`/wallet/verify`): photos of both sides of the ID card, selfie frames
// from the camera with a blink challenge, and the submission's status.
//
// - Each card side comes from a file input (on a phone it opens the camera); it is drawn on
//   a canvas at most 1,600 px on its long side and sent as JPEG. The selfie: the front camera
//   (getUserMedia) in a <video>; "Take the selfie" captures `data-frames` frames 250 ms apart
//   (2 s in all: a blink lasts 100 to 400 ms) at most 640 px, telling the person to look, then
//   to blink, then to look again. Nothing is
//   sent before the person presses "Send", and nothing is kept in the browser afterwards.
// - The images travel as base64 in one JSON body (`POST /v1/kyc/submissions`); the page then
//   polls `GET /v1/kyc/submissions/latest` every 2 s while the checks run.
// - Everything from the API is written with textContent, never parsed as HTML.

import { api, explain, money, say, t, token } from "./api.js";

const CARD_SIDE_MAX = 1600;
const FRAME_SIDE_MAX = 640;
const FRAME_INTERVAL_MS = 250;
const POLL_MS = 2000;
const JPEG_QUALITY = 0.88;
const byId = (id) => document.getElementById(id);
const form = byId("verify");
const error = byId("error");
const frameCount = Number(form.dataset.frames);
const chosen = { id_front: null, id_back: null };
let frames = [];
let stream = null;

function base64Of(canvas) {
  return canvas.toDataURL("image/jpeg", JPEG_QUALITY).split(",", 2)[1];
}

function scaledCanvas(source, width, height, sideMax) {
  const scale = Math.min(1, sideMax / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

async function readCard(input, key, preview) {
  say(error, "");
  const file = input.files && input.files[0];
  chosen[key] = null;
  preview.hidden = true;
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const canvas = scaledCanvas(bitmap, bitmap.width, bitmap.height, CARD_SIDE_MAX);
    bitmap.close();
    chosen[key] = base64Of(canvas);
    preview.src = "data:image/jpeg;base64," + chosen[key];
    preview.hidden = false;
  } catch (_) {
    say(error, t("error.image_invalid"));
  }
}

async function startCamera() {
  say(error, "");
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 } },
      audio: false,
    });
  } catch (_) {
    say(error, t("kyc.selfie.no_camera"));
    return;
  }
  const video = byId("camera");
  video.srcObject = stream;
  video.hidden = false;
  byId("start-camera").hidden = true;
  byId("take").hidden = false;
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  byId("camera").srcObject = null;
  byId("camera").hidden = true;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function showFrames() {
  const list = byId("frames");
  list.replaceChildren(...frames.map((frame, index) => {
    const item = document.createElement("li");
    const image = document.createElement("img");
    image.src = "data:image/jpeg;base64," + frame;
    image.alt = t("kyc.selfie.frame", { n: index + 1 });
    item.append(image);
    return item;
  }));
}

// The prompt for frame `index`: look first, blink in the middle third, look again at the end.
function promptFor(index) {
  const third = frameCount / 3;
  return index >= third && index < 2 * third ? t("kyc.selfie.blink") : t("kyc.selfie.look");
}

async function takeSelfie() {
  const video = byId("camera");
  const prompt = byId("prompt");
  const take = byId("take");
  take.disabled = true;
  frames = [];
  for (let index = 0; index < frameCount; index += 1) {
    prompt.textContent = promptFor(index);
    await wait(FRAME_INTERVAL_MS);
    const canvas = scaledCanvas(video, video.videoWidth, video.videoHeight, FRAME_SIDE_MAX);
    frames.push(base64Of(canvas));
  }
  prompt.textContent = t("kyc.selfie.done");
  take.textContent = t("kyc.selfie.again");
  take.disabled = false;
  showFrames();
}

function showStatus(latest) {
  const section = byId("status");
  const text = byId("status-text");
  const reason = byId("status-reason");
  reason.hidden = true;
  const state = latest.state;
  const open = state === "none" || state === "rejected";
  form.hidden = !open || latest.tier >= 1;
  section.hidden = state === "none" && latest.tier < 1;
  if (state === "checking" || state === "approving") text.textContent = t("kyc.status.checking");
  else if (state === "verified" || state === "approved") text.textContent = t("kyc.status.verified");
  else if (state === "review") text.textContent = t("kyc.status.review");
  else if (state === "rejected") {
    text.textContent = t("kyc.status.rejected");
    reason.textContent = t("kyc.status.reason", { reason: latest.reason || "" });
    reason.hidden = false;
  } else if (latest.tier >= 1) text.textContent = t("kyc.status.done_already");
  section.dataset.state = state;
  return state === "checking" || state === "approving";
}

async function refresh() {
  try {
    const latest = await api("GET", "/v1/kyc/submissions/latest");
    if (showStatus(latest)) setTimeout(refresh, POLL_MS);
  } catch (problem) {
    fail(problem);
  }
}

function fail(problem) {
  if (problem && problem.code === "unauthenticated") {
    location.replace("/wallet/signin");
    return;
  }
  say(error, explain(problem || {}));
}

async function send(event) {
  event.preventDefault();
  say(error, "");
  if (!chosen.id_front || !chosen.id_back || frames.length < 3) {
    say(error, t("kyc.verify.missing"));
    return;
  }
  const button = byId("send");
  button.disabled = true;
  button.textContent = t("kyc.verify.sending");
  try {
    await api("POST", "/v1/kyc/submissions", {
      id_front: chosen.id_front,
      id_back: chosen.id_back,
      selfie_frames: frames,
      challenge: "blink",
    });
    stopCamera();
    frames = [];
    await refresh();
    byId("status-title").scrollIntoView();
  } catch (problem) {
    fail(problem);
  } finally {
    button.disabled = false;
    button.textContent = t("kyc.verify.send");
  }
}

function start() {
  if (!token()) {
    location.replace("/wallet/signin");
    return;
  }
  const lead = byId("lead");
  lead.textContent = t("kyc.verify.lead", {
    khr: money(Number(lead.dataset.khr), "KHR"),
    usd: money(Number(lead.dataset.usd), "USD"),
  });
  byId("front").addEventListener("change", (e) => readCard(e.target, "id_front", byId("front-preview")));
  byId("back").addEventListener("change", (e) => readCard(e.target, "id_back", byId("back-preview")));
  byId("start-camera").addEventListener("click", startCamera);
  byId("take").addEventListener("click", takeSelfie);
  form.addEventListener("submit", send);
  refresh();
}

start();
