// The officer's queue of ID checks (`/officer/kyc`): the submissions the gateway did not decide
// alone, one opened at a time with its images, the fields read and their checks, the face
// distance against the threshold, the liveness result and the wallet's own name and birth
// date; approve (the wallet goes to partial) or reject, with a reason.
//
// - The session is the officer's token (`bakong.token.officer`); none sends to the sign-in.
// - Opening a submission is recorded by the API (`kyc_view`), like a customer's page.
// - Images arrive as data: URLs inside the API's JSON; every text is set with textContent.

import { api, explain, say, setToken, t, token, when } from "./api.js";

const ROLE = "officer";
const byId = (id) => document.getElementById(id);
const error = byId("error");
const done = byId("done");
let opened = null;

function call(method, path, body) {
  return api(method, path, body, { role: ROLE });
}

function fail(problem) {
  if (problem && problem.code === "unauthenticated") {
    setToken(ROLE, null);
    location.replace("/officer/signin");
    return;
  }
  say(error, explain(problem || {}));
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

function doubtText(code) {
  const field = /^(document_number|surname|given_names|birth_date|sex|expiry_date)_(flagged|missing)$/.exec(code);
  if (field) return t("kyc.doubt.field_" + field[2], { field: t("kyc.field." + field[1]) });
  const key = "kyc.doubt." + code;
  const text = t(key);
  return text === key ? code : text;
}

function thousandths(milli) {
  return (milli / 1000).toFixed(2);
}

function queueRow(entry) {
  const row = document.createElement("li");
  row.className = "entry";
  const text = document.createElement("span");
  text.className = "who";
  const line = document.createElement("span");
  line.className = "line";
  line.textContent = t("kyc.queue.entry", { handle: entry.handle, when: when(entry.created_ms) });
  const doubts = document.createElement("span");
  doubts.className = "line muted small";
  doubts.textContent = entry.doubts.map(doubtText).join(" · ");
  text.append(line, doubts);
  const open = document.createElement("button");
  open.type = "button";
  open.className = "button";
  open.textContent = t("kyc.queue.open");
  open.setAttribute("aria-label", t("kyc.queue.open") + " " + entry.handle);
  open.addEventListener("click", () => openSubmission(entry.id));
  row.append(text, open);
  return row;
}

async function loadQueue() {
  say(error, "");
  try {
    const answer = await call("GET", "/v1/officer/kyc/queue");
    byId("queue").replaceChildren(...answer.submissions.map(queueRow));
    byId("queue-empty").hidden = answer.submissions.length > 0;
  } catch (problem) {
    fail(problem);
  }
}

function definition(list, term, value, status) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value || "—";
  if (status) {
    const tag = document.createElement("span");
    tag.className = "tag " + (status === "checked" ? "good" : status === "flagged" ? "warn" : "bad");
    tag.textContent = t("kyc.check." + status);
    dd.append(" ", tag);
  }
  list.append(dt, dd);
}

function showSubmission(found) {
  byId("submission-title").textContent = t("kyc.review.title", { id: found.id, handle: found.customer.handle });
  const doubts = found.doubts.map((code) => {
    const item = document.createElement("li");
    item.textContent = doubtText(code);
    return item;
  });
  if (doubts.length === 0) {
    const item = document.createElement("li");
    item.textContent = t("kyc.review.all_passed");
    doubts.push(item);
  }
  byId("doubts").replaceChildren(...doubts);
  byId("distance").textContent = found.face_distance_milli === null
    ? t("kyc.review.no_distance")
    : t("kyc.review.distance_value", {
      distance: thousandths(found.face_distance_milli),
      threshold: thousandths(found.threshold_milli),
    });
  const alive = "kyc.liveness." + (found.liveness || "unavailable");
  byId("liveness").textContent = t(alive) === alive ? found.liveness : t(alive);
  byId("wallet-name").textContent = found.customer.name;
  byId("wallet-birth").textContent = found.customer.birth_date || "—";
  byId("image-front").src = found.images.id_front;
  byId("image-back").src = found.images.id_back;
  byId("selfies").replaceChildren(...found.images.selfie_frames.map((source, index) => {
    const item = document.createElement("li");
    const image = document.createElement("img");
    image.src = source;
    image.alt = t("kyc.selfie.frame", { n: index + 1 });
    item.append(image);
    return item;
  }));
  const fields = byId("fields");
  fields.replaceChildren();
  const reading = found.reading || {};
  for (const [name, field] of Object.entries(reading.fields || {})) {
    definition(fields, t("kyc.field." + name), field.value, field.status);
  }
  byId("front-text").textContent = reading.front_text || "";
  byId("zone-text").textContent = reading.zone_text || "";
  byId("reason").value = "";
  byId("decision").hidden = found.state !== "review";
  byId("submission").hidden = false;
  byId("submission-title").focus();
}

async function openSubmission(id) {
  say(error, "");
  say(done, "");
  try {
    const found = await call("GET", "/v1/officer/kyc/" + id);
    opened = found.id;
    showSubmission(found);
  } catch (problem) {
    fail(problem);
  }
}

async function decide(event) {
  event.preventDefault();
  say(error, "");
  const approve = event.submitter && event.submitter.id === "approve";
  const reason = byId("reason").value.trim();
  if (!reason) {
    say(error, t("kyc.review.need_reason"));
    byId("reason").focus();
    return;
  }
  try {
    await call("POST", "/v1/officer/kyc/" + opened + "/decision", {
      decision: approve ? "approve" : "reject",
      reason,
    });
    byId("submission").hidden = true;
    say(done, t(approve ? "kyc.review.approved" : "kyc.review.rejected"), "ok");
    await loadQueue();
  } catch (problem) {
    fail(problem);
  }
}

async function start() {
  if (!token(ROLE)) {
    location.replace("/officer/signin");
    return;
  }
  try {
    const me = await call("GET", "/v1/officer/session");
    byId("who").textContent = t("officer.signed_in_as", { name: me.name });
  } catch (problem) {
    fail(problem);
    return;
  }
  for (const element of document.querySelectorAll("[data-signed-in]")) element.hidden = false;
  byId("sign-out").addEventListener("click", signOut);
  byId("refresh").addEventListener("click", loadQueue);
  byId("decision").addEventListener("submit", decide);
  await loadQueue();
}

start();
