// Money sent to a phone with no wallet, as its payer sees it (`GET /v1/claims/{claim_id}`):
// waiting (until when), being claimed, claimed (when, at which bank), coming back, came back
// (when, and why). While it may still change the page asks again every few seconds, for a
// bounded while, so the payer watches it move without reloading.

import { api, money, say, t, when } from "./api.js";
import { fail, requireSession, toggle } from "./wallet.js";

const POLL_MS = 3000;
const POLLS = 200;
const FINAL = new Set(["claimed", "returned", "refused"]);
const STATES = {
  placing: "wallet.sent.state_placing",
  pending_claim: "wallet.sent.state_pending",
  claiming: "wallet.sent.state_claiming",
  claimed: "wallet.sent.state_claimed",
  returning: "wallet.sent.state_returning",
  returned: "wallet.sent.state_returned",
  refused: "wallet.sent.state_refused",
};

const field = (id) => document.getElementById(id);
const error = field("error");
const sent = field("sent");

function explanation(claim) {
  if (claim.state === "pending_claim") {
    return t("wallet.sent.explain_pending", { date: when(claim.expires_ms) });
  }
  if (claim.state !== "returned" && claim.state !== "refused") return "";
  if (!claim.reason) return "";
  if (claim.reason === "hold_expired") return t("wallet.sent.reason_expired");
  return t("wallet.sent.reason_other", { reason: claim.reason });
}

function show(claim) {
  field("sent-amount").textContent = money(claim.amount, claim.asset);
  const state = field("sent-state");
  const words = t(STATES[claim.state] || STATES.refused);
  if (state.textContent !== words) state.textContent = words; // announced once per change
  state.className = "state claim-state " + claim.state;
  field("sent-explain").textContent = explanation(claim);
  field("sent-to").textContent = claim.phone;
  field("sent-created").textContent = when(claim.created_ms);
  field("sent-until").textContent = when(claim.expires_ms);
  toggle("until", !FINAL.has(claim.state));
  const finished = claim.finished_ms && (claim.state === "claimed" || claim.state === "returned");
  field("sent-finished-label").textContent = t(
    claim.state === "claimed" ? "wallet.sent.claimed_at" : "wallet.sent.returned_at",
  );
  field("sent-finished").textContent = finished ? when(claim.finished_ms) : "";
  toggle("finished", Boolean(finished));
  field("sent-bank").textContent = claim.claimant_bank || "";
  toggle("bank", claim.state === "claimed" && Boolean(claim.claimant_bank));
  field("sent-memo").textContent = claim.memo || "";
  toggle("memo", Boolean(claim.memo));
  field("sent-agent").textContent = t(claim.agent_secret ? "wallet.sent.agent_yes" : "wallet.sent.agent_no");
}

async function follow() {
  const path = "/v1/claims/" + sent.dataset.claimId;
  for (let poll = 0; poll < POLLS; poll += 1) {
    const claim = await api("GET", path);
    show(claim);
    sent.setAttribute("aria-busy", "false");
    if (FINAL.has(claim.state)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

if (requireSession()) {
  follow().catch((problem) => {
    sent.setAttribute("aria-busy", "false");
    if (problem.code === "claim_not_found") {
      sent.hidden = true;
      say(error, t("wallet.sent.not_found"));
      return;
    }
    fail(problem, error);
  });
}
