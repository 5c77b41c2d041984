// The customer's payments, newest first, a page at a time ("show more" follows the API's
// cursor), filtered by direction, currency and day (a day in Phnom Penh, UTC+7, as the
// ledger counts days). The filters live in the page's query string (`?direction=in`), so a
// filtered view can be reloaded or bookmarked; they hold no personal data.

import { api } from "./api.js";
import { entryRow, fail, requireSession } from "./wallet.js";

const PAGE = 20;
const PHNOM_PENH_OFFSET_MS = 7 * 3_600_000;
const DAY_MS = 86_400_000;

const field = (id) => document.getElementById(id);
const error = field("error");
const list = field("entries");
const more = field("more");
let cursor = null;

function query() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const direction = field("direction").value;
  const asset = field("asset").value;
  const day = field("day").value;
  if (direction) params.set("direction", direction);
  if (asset) params.set("asset", asset);
  if (/^\d{4}-\d{2}-\d{2}$/.test(day)) {
    const start = Date.parse(day + "T00:00:00Z") - PHNOM_PENH_OFFSET_MS;
    params.set("since_ms", String(start));
    params.set("until_ms", String(start + DAY_MS));
  }
  if (cursor !== null) params.set("cursor", String(cursor));
  return params;
}

async function load(append) {
  if (!append) cursor = null;
  list.setAttribute("aria-busy", "true");
  try {
    const page = await api("GET", "/v1/wallet/history?" + query());
    const rows = page.entries.map(entryRow);
    if (append) list.append(...rows);
    else list.replaceChildren(...rows);
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    field("entries-empty").hidden = list.children.length > 0;
  } catch (problem) {
    fail(problem, error);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function remember() {
  const params = new URLSearchParams();
  for (const name of ["direction", "asset", "day"]) {
    if (field(name).value) params.set(name, field(name).value);
  }
  const search = params.toString();
  history.replaceState(null, "", location.pathname + (search ? "?" + search : ""));
}

field("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  remember();
  load(false);
});
for (const name of ["direction", "asset"]) {
  field(name).addEventListener("change", () => {
    remember();
    load(false);
  });
}
more.addEventListener("click", () => load(true));

if (requireSession()) {
  const asked = new URLSearchParams(location.search);
  for (const name of ["direction", "asset", "day"]) {
    const value = asked.get(name);
    if (value && [...(field(name).options || [])].some((option) => option.value === value)) {
      field(name).value = value;
    } else if (name === "day" && value && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
      field(name).value = value;
    }
  }
  load(false);
}
