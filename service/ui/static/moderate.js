// The moderator page. Plain JavaScript, no build and no library: it draws what /moderate served inline, then talks
// to the same /v1 endpoints as any client (the session cookie authenticates; changes carry the CSRF token).
// Everything is built with textContent and DOM nodes, never innerHTML: comment text cannot become markup.

const data = JSON.parse(document.getElementById("page-data").textContent);
let csrf = document.querySelector('meta[name="csrf-token"]').content;
const me = data.moderator;
const UNDO_MS = 5000;
const PENDING_KEY = "moderato.pending." + data.tenant + "." + me; // unsent decisions survive a reload
const $ = (id) => document.getElementById(id);

const view = {
  queue: data.queue,
  filters: {},
  cursor: data.next_cursor,
  items: new Map(), // id -> item shown in the queue list
  held: new Set(), // ids leased to me
  selected: new Set(),
  current: null, // id of the comment under the keyboard cursor
  lastEvent: data.after,
  undo: null, // {entries, timer}: the latest decisions, not sent yet
  sending: new Map(), // id -> entry: decisions on their way (retried until confirmed)
  thread: null,
  threadFrom: null, // the queue item `t` opened the thread view from: focused there
};

// ---------- HTTP ----------

class NetworkError extends Error {}

async function api(method, path, body, { keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, keepalive, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new NetworkError(String(err));
  }
  let payload = null;
  try { payload = await response.json(); } catch (_) { /* an empty or non-JSON body */ }
  return { ok: response.ok, status: response.status, data: payload };
}

function errorText(r) {
  return (r.data && r.data.error && r.data.error.message) || "the server answered " + r.status;
}

// ---------- small DOM helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function notice(message) {
  const box = $("notice");
  box.textContent = message;
  box.hidden = !message;
}

function ago(epochSeconds) {
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

const label = (name) => name.replace(/_/g, " ");

// The comment with the model's toxic spans marked: colour and a written label (never colour alone).
function markedText(text, spans) {
  const p = el("p", { class: "text" });
  let at = 0;
  for (const s of [...(spans || [])].sort((a, b) => a.start - b.start)) {
    if (s.start < at) continue; // overlapping spans: the first wins
    p.append(text.slice(at, s.start));
    const mark = el("mark", { class: "span span-" + s.attribute, title: label(s.attribute) }, text.slice(s.start, s.end));
    mark.append(el("span", { class: "span-label", text: label(s.attribute) }));
    p.append(mark);
    at = s.end;
  }
  p.append(text.slice(at));
  return p;
}

function scoreBars(scores) {
  const list = el("dl", { class: "scores" });
  for (const name of data.attributes) {
    const value = scores[name];
    if (value === undefined) continue;
    const id = "m-" + Math.random().toString(36).slice(2);
    list.append(
      el("dt", {}, el("label", { for: id, text: label(name) })),
      el("dd", {},
        el("meter", { id, min: "0", max: "1", low: "0.5", high: "0.8", optimum: "0", value: String(value) }),
        el("span", { class: "value", text: value.toFixed(2) })),
    );
  }
  return list;
}

// A stance label the model is unsure of is shown as unsure, with the way it leans; counts and filters skip it.
function countedStance(stance) {
  if (!stance) return null;
  return stance.confident ? stance.label : "unsure";
}

function stanceLabelText(stance) {
  const sure = stance.confidence === null || stance.confidence === undefined ? "" : ` (${Math.round(stance.confidence * 100)} % sure)`;
  return stance.confident ? stance.label + sure : `unsure, leans ${stance.label}${sure}`;
}

function stanceText(item) {
  const parts = [];
  if (item.stance) parts.push("toward the article: " + stanceLabelText(item.stance));
  if (item.stance_to_parent) parts.push("toward its parent: " + stanceLabelText(item.stance_to_parent));
  return parts.join(" · ");
}

function actionButtons(id) {
  return el("div", { class: "actions" },
    el("button", { type: "button", "data-act": "approve", "data-id": id, text: "Approve (a)" }),
    el("button", { type: "button", "data-act": "reject", "data-id": id, text: "Reject (r)" }),
    el("button", { type: "button", "data-act": "escalate", "data-id": id, text: "Escalate (e)" }));
}

// ---------- the queue list ----------

function renderItem(item) {
  const mine = item.claimed_by === me;
  const box = el("input", { type: "checkbox", class: "select", "data-id": item.id, "aria-label": "select " + item.id });
  box.checked = view.selected.has(item.id);
  const head = el("div", { class: "head" }, box,
    el("span", { class: "age", text: ago(item.received_at) }),
    mine ? el("span", { class: "badge", text: "yours" }) : null,
    item.reports ? el("span", { class: "badge warn", text: item.reports + " report" + (item.reports > 1 ? "s" : "") +
      (item.last_report ? ": " + item.last_report : "") }) : null);
  const meta = el("p", { class: "meta" });
  if (item.thread_id) meta.append("thread ", el("a", { href: "#thread=" + encodeURIComponent(item.thread_id), text: item.thread_id }));
  if (item.article_title) meta.append(" · ", el("cite", { text: item.article_title }));
  if (item.author_id) {
    const a = item.author || { comments: 0, flagged: 0, rejected: 0 };
    meta.append(" · author ", el("strong", { text: item.author_name || item.author_id }),
      item.author_name ? ` [${item.author_id}]` : "",
      ` (${a.comments} comments, ${a.flagged} flagged, ${a.rejected} rejected)`,
      a.standing ? el("span", { class: "badge warn", text: a.standing }) : null);
  }
  const li = el("li", { class: "item", tabindex: "-1", "data-id": item.id, "data-priority": String(item.priority) },
    head, markedText(item.text, item.spans),
    item.read_as ? el("p", { class: "read-as", text: "read as: " + item.read_as }) : null, meta,
    el("div", { class: "facts" }, scoreBars(item.scores),
      el("div", {},
        el("p", { class: "stance", text: stanceText(item) }),
        item.reasons.length ? el("p", { class: "reasons", text: "flagged: " + item.reasons.join(", ") }) : null)),
    actionButtons(item.id));
  li.setAttribute("aria-label", "comment " + item.id);
  return li;
}

function visibleIds() {
  return [...$("items").querySelectorAll("li.item")].map((li) => li.dataset.id);
}

function upsert(item) {
  if (item.claimed_by && item.claimed_by !== me) return remove(item.id); // a colleague's: not ours to see
  if (view.sending.has(item.id) || (view.undo && view.undo.entries.some((e) => e.id === item.id))) return;
  const list = $("items");
  const old = list.querySelector(`li[data-id="${CSS.escape(item.id)}"]`);
  const node = renderItem(item);
  view.items.set(item.id, item);
  if (old) { old.replaceWith(node); } else {
    const after = [...list.children].find((li) => Number(li.dataset.priority) > item.priority);
    list.insertBefore(node, after || null);
  }
  if (view.current === item.id) setCurrent(item.id, false);
  refreshEmpty();
}

function remove(id) {
  const li = $("items").querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (!li) return;
  if (view.current === id) {
    const ids = visibleIds();
    const i = ids.indexOf(id);
    view.current = ids[i + 1] || ids[i - 1] || null;
  }
  li.remove();
  view.items.delete(id);
  view.selected.delete(id);
  if (view.current) setCurrent(view.current, document.activeElement === document.body || !document.activeElement);
  refreshEmpty();
}

function refreshEmpty() {
  $("empty").hidden = $("items").children.length > 0;
  $("selection").textContent = view.selected.size ? view.selected.size + " selected" : "";
}

function setCurrent(id, focus = true) {
  const list = currentList();
  for (const li of list.querySelectorAll("li.current")) { li.classList.remove("current"); li.removeAttribute("aria-current"); }
  const li = id && list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (!li) return;
  li.classList.add("current");
  li.setAttribute("aria-current", "true");
  if (focus) li.focus({ preventScroll: false });
  if (list.id === "items") view.current = id; else view.thread.current = id;
}

function currentList() {
  return view.thread ? $("thread-comments") : $("items");
}

function showItems(items, cursor) {
  $("items").replaceChildren();
  view.items.clear();
  for (const item of items) upsert(item);
  view.cursor = cursor;
  $("more").hidden = !cursor;
  if (!view.current || !view.items.has(view.current)) view.current = visibleIds()[0] || null;
  setCurrent(view.current, false);
  refreshEmpty();
}

function queuePath(cursor) {
  const q = new URLSearchParams({ limit: "50" });
  for (const [k, v] of Object.entries(view.filters)) if (v) q.set(k, v);
  if (cursor) q.set("cursor", cursor);
  return `/v1/queues/${view.queue}?` + q;
}

// A stance filter means a confident label: say how many comments leaning that way were left out as unsure.
function showUnsure(count) {
  const note = $("filter-unsure");
  note.hidden = !count;
  note.textContent = count ? `${count} more lean that way but the model is unsure of them: not shown.` : "";
}

// A list asked for again before its last answer came back (another tab, filter or page): only the newest answer is
// shown. A slow older one would otherwise replace it, and one list would show under another's name.
const newestAsk = {};
function ask(list) {
  const mine = (newestAsk[list] = (newestAsk[list] || 0) + 1);
  return () => newestAsk[list] === mine;
}

async function loadQueue() {
  const current = ask("queue");
  try {
    const r = await api("GET", queuePath());
    if (!current()) return;
    if (!r.ok) return notice("Could not load the queue: " + errorText(r));
    showItems(r.data.items, r.data.next_cursor);
    showUnsure(r.data.unsure || 0);
    notice("");
    await topUp();
  } catch (err) {
    notice("The server cannot be reached; the list will refresh when it is back.");
  }
}

let refreshTimer = null;
function scheduleRefresh() { // new arrivals: one listing per burst of events, not one request per comment
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try {
      const r = await api("GET", queuePath());
      if (r.ok) for (const item of r.data.items) if (!view.items.has(item.id)) upsert(item);
    } catch (_) { /* shown by the live indicator */ }
  }, 300);
}

// ---------- leases ----------

async function topUp() {
  const want = data.batch - view.held.size;
  if (want <= 0) return;
  try {
    const r = await api("POST", `/v1/queues/${view.queue}/claim`, { count: want });
    if (!r.ok) return;
    for (const item of r.data.items) { view.held.add(item.id); if (matchesFilters(item)) upsert(item); }
  } catch (_) { /* retried on the next decision or renewal */ }
}

function matchesFilters(item) {
  const f = view.filters;
  if (f.thread && item.thread_id !== f.thread) return false;
  if (f.attribute && !item.reasons.some((r) => r.startsWith(f.attribute + " "))) return false;
  if (f.stance && countedStance(item.stance) !== f.stance) return false;
  if (f.stance_to_parent && countedStance(item.stance_to_parent) !== f.stance_to_parent) return false;
  return true;
}

async function renew() {
  if (!view.held.size) return topUp();
  try {
    const r = await api("POST", "/v1/claims/renew", { ids: [...view.held] });
    if (r.ok) view.held = new Set(r.data.ids);
  } catch (_) { /* the next renewal tries again; leases last three periods */ }
  await topUp();
}

function releaseAll() {
  const ids = [...view.held].filter((id) => !view.sending.has(id));
  if (ids.length) api("POST", "/v1/claims/release", { ids: ids.slice(0, 200) }, { keepalive: true }).catch(() => {});
}

// ---------- decisions: undo window, then sent until confirmed ----------

const PAST = { approve: "Approved", reject: "Rejected", escalate: "Escalated" };

function reasonNow() {
  return $("reason-text").value.trim() || $("reason").value;
}

function decide(action, ids) {
  ids = ids.filter(Boolean);
  if (!ids.length) return;
  commitUndo(); // the previous batch is final once another decision is made
  const reason = reasonNow();
  const entries = ids.map((id) => ({ id, action, reason, item: view.items.get(id) || threadComment(id) }));
  for (const e of entries) { remove(e.id); removeFromThread(e.id, action); }
  view.undo = { entries, timer: setTimeout(commitUndo, UNDO_MS) };
  $("toast-text").textContent = `${PAST[action]} ${ids.length === 1 ? ids[0] : ids.length + " comments"}.`;
  $("toast").hidden = false;
  $("reason-text").value = "";
  persistPending();
  if (view.current) setCurrent(view.current);
}

// The decisions in the undo window, taken out of it (the toast goes): undone, or sent.
function takeUndo() {
  if (!view.undo) return [];
  clearTimeout(view.undo.timer);
  const { entries } = view.undo;
  view.undo = null;
  $("toast").hidden = true;
  return entries;
}

function undo() {
  const entries = takeUndo();
  if (!entries.length) return;
  for (const e of entries) if (e.item && e.item.priority !== undefined) upsert(e.item);
  if (view.thread) showThread(view.thread.id);
  persistPending();
  if (entries[0]) setCurrent(entries[0].id);
}

function commitUndo() {
  for (const e of takeUndo()) deliver(e);
}

function sendDecision(entry, options = {}) {
  const body = { decision: entry.action, reason: entry.reason };
  return api("POST", `/v1/comments/${encodeURIComponent(entry.id)}/decision`, body, options);
}

async function deliver(entry) {
  view.sending.set(entry.id, entry);
  persistPending();
  showPending();
  let wait = 1000;
  for (;;) {
    let outcome;
    try {
      const r = await sendDecision(entry);
      outcome = r.ok ? "done" : await refused(entry, r);
    } catch (_) {
      outcome = "retry"; // the server or the network is down: keep the decision and try again
    }
    if (outcome !== "retry") break;
    entry.retrying = true;
    showPending();
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 15000);
  }
  view.sending.delete(entry.id);
  view.held.delete(entry.id);
  persistPending();
  showPending();
  topUp();
}

// What an error answer means for a decision: retried, done already, or refused for a reason to show.
async function refused(entry, r) {
  if (r.status >= 500 || r.status === 429) return "retry";
  if (r.status === 401 || r.status === 403) {
    // Signed out, expired, or signed in again elsewhere (a new session has a new token): pick up the current
    // session's token if there is one, and keep the decision until there is.
    const fresh = await api("GET", "/moderate/token").catch(() => null);
    if (fresh && fresh.ok && fresh.data.csrf !== csrf) { csrf = fresh.data.csrf; return "retry"; }
    if (r.status === 401 || (fresh && fresh.status === 401)) {
      notice("Your session has ended: sign in again in another tab; unsaved decisions are kept and retried.");
      return "retry";
    }
    notice(`${entry.id}: ${errorText(r)}`);
    return "refused";
  }
  if (r.status === 409) {
    const state = await api("GET", `/v1/comments/${encodeURIComponent(entry.id)}`).catch(() => null);
    const c = state && state.ok ? state.data : null;
    const landed = c && ((entry.action === "escalate" && c.queue === "escalated") || (c.decision === entry.action && c.decided_by === me));
    if (landed) return "done"; // an earlier attempt got through before its answer was lost
    notice(`${entry.id}: ${errorText(r)}`);
    return "refused";
  }
  notice(`${entry.id}: ${errorText(r)}`);
  return "refused";
}

function showPending() {
  const box = $("pending");
  const waiting = [...view.sending.values()];
  const retrying = waiting.filter((e) => e.retrying);
  box.hidden = waiting.length === 0;
  box.textContent = retrying.length
    ? `Saving ${waiting.length} decision${waiting.length > 1 ? "s" : ""}: the server is not answering, retrying (${retrying.map((e) => e.id).join(", ")}).`
    : `Saving ${waiting.length} decision${waiting.length > 1 ? "s" : ""}…`;
  box.classList.toggle("retrying", retrying.length > 0);
}

function persistPending() {
  const all = [...view.sending.values(), ...(view.undo ? view.undo.entries : [])]
    .map(({ id, action, reason }) => ({ id, action, reason }));
  try { sessionStorage.setItem(PENDING_KEY, JSON.stringify(all)); } catch (_) { /* storage full or disabled */ }
}

function replayPending() {
  let saved = [];
  try { saved = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "[]"); } catch (_) { saved = []; }
  for (const e of saved) { remove(e.id); deliver({ ...e, item: null }); }
}

// ---------- live updates ----------

function connect() {
  const source = new EventSource("/v1/events?after=" + encodeURIComponent(view.lastEvent));
  const live = $("live");
  source.onopen = () => { live.textContent = "Live"; live.classList.remove("off"); };
  source.onerror = () => { live.textContent = "Reconnecting…"; live.classList.add("off"); };
  const on = (kind, handler) => source.addEventListener(kind, (ev) => {
    view.lastEvent = ev.lastEventId || view.lastEvent;
    const d = JSON.parse(ev.data || "{}");
    updateCounts(d);
    handler(d);
  });
  on("queued", (d) => { if (d.queue === view.queue) scheduleRefresh(); if (view.thread) scheduleThreadRefresh(); });
  on("claimed", (d) => {
    if (d.moderator === me) { view.held.add(d.id); return; }
    remove(d.id);
  });
  on("released", (d) => { if (d.moderator === me) view.held.delete(d.id); scheduleRefresh(); });
  on("decided", (d) => {
    if (!view.sending.has(d.id)) remove(d.id);
    view.held.delete(d.id);
    if (view.thread) scheduleThreadRefresh();
  });
  on("erased", (d) => {  // the platform deleted it, or its author asked to be forgotten: it leaves the page
    view.held.delete(d.id);
    remove(d.id);
    if (view.thread) scheduleThreadRefresh();
  });
  on("reset", () => loadQueue());
  on("unavailable", () => { live.textContent = "Reconnecting…"; live.classList.add("off"); });
}

function updateCounts(d) {
  for (const name of data.queues) {
    if (d[name] === undefined) continue;
    const span = document.querySelector(`[data-count="${name}"]`);
    if (span) span.textContent = d[name];
  }
}

// ---------- the thread view ----------

function threadComment(id) {
  return view.thread && view.thread.comments.find((c) => c.id === id);
}

function removeFromThread(id, action) {
  const c = threadComment(id);
  if (!c) return;
  c.queue = action === "escalate" ? "escalated" : null;
  if (action !== "escalate") c.decision = action;
  drawThreadComments();
}

let threadTimer = null;
function scheduleThreadRefresh() {
  clearTimeout(threadTimer);
  threadTimer = setTimeout(() => view.thread && showThread(view.thread.id, false), 500);
}

async function showThread(id, focus = true) {
  let r;
  try {
    r = await api("GET", `/v1/threads/${encodeURIComponent(id)}`);
  } catch (_) {
    return notice("The server cannot be reached.");
  }
  if (!r.ok) return notice("Could not load the thread: " + errorText(r));
  const t = r.data;
  view.thread = { id, comments: t.comments, current: view.thread && view.thread.id === id ? view.thread.current : null };
  $("thread-heading").textContent = "Thread " + id;
  $("thread-articles").replaceChildren(...t.articles.map((a) => el("p", { class: "article" }, el("cite", { text: a.title || a.id }))));
  $("premoderation").checked = t.premoderated;
  drawStanceChart(t.comments);
  drawThreadComments();
  const article = (t.articles[0] || {}).id || id;
  const f = await api("GET", `/v1/stats/fairness?article_id=${encodeURIComponent(article)}`).catch(() => null);
  drawFairness(f && f.ok ? f.data : null);
  if (focus) { // on the comment the moderator came from, else the thread's first: keys work at once
    const ids = t.comments.map((c) => c.id);
    setCurrent(ids.includes(view.threadFrom) ? view.threadFrom : (view.thread.current || ids[0]));
  }
}

function drawThreadComments() {
  const t = view.thread;
  const list = $("thread-comments");
  const worst = t.comments.reduce((w, c) => ((c.scores.toxicity || 0) > ((w && w.scores.toxicity) || -1) ? c : w), null);
  const byToxicity = $("thread-order").value === "toxic";
  const node = (c) => {
    const li = el("li", { class: "item" + (c.queue ? "" : " settled"), tabindex: "-1", "data-id": c.id });
    li.setAttribute("aria-label", "comment " + c.id);
    const status = c.queue ? "waiting in " + c.queue : c.decision ? "decision: " + c.decision : c.status;
    const r = c.replies;
    li.append(...[
      el("div", { class: "head" },
        el("strong", { text: c.author_name || c.author_id || "anonymous" }),
        el("span", { class: "age", text: ago(c.received_at) }),
        el("span", { class: "badge" + (c.queue ? " warn" : ""), text: status }),
        worst && c.id === worst.id ? el("span", { class: "badge worst", text: "most toxic in thread" }) : null),
      markedText(c.text, c.spans),
      c.read_as ? el("p", { class: "read-as", text: "read as: " + c.read_as }) : null,
      el("div", { class: "facts" }, scoreBars(c.scores),
        el("div", {},
          el("p", { class: "stance", text: stanceText(c) }),
          r.count ? el("p", { class: "replies", text: `${r.count} replies: ${r.agree} agree, ${r.disagree} disagree` + (r.unsure ? `, ${r.unsure} unsure` : "") +
            (r.disagreeing_max_toxicity !== null ? ` (most toxic disagreeing reply ${r.disagreeing_max_toxicity.toFixed(2)})` : "") }) : null,
          c.reasons && c.reasons.length ? el("p", { class: "reasons", text: "flagged: " + c.reasons.join(", ") }) : null)),
      c.queue ? actionButtons(c.id) : null].filter(Boolean));
    return li;
  };
  const items = [];
  if (byToxicity) {
    for (const c of [...t.comments].sort((a, b) => (b.scores.toxicity || 0) - (a.scores.toxicity || 0))) items.push(node(c));
  } else {
    const ids = new Set(t.comments.map((c) => c.id));
    const children = new Map();
    for (const c of t.comments) {
      const parent = c.parent_id && ids.has(c.parent_id) ? c.parent_id : "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(c);
    }
    const grow = (c) => {
      const li = node(c);
      const kids = children.get(c.id) || [];
      if (kids.length) li.append(el("ol", { class: "replies-list", "aria-label": "replies to " + c.id }, ...kids.map(grow)));
      return li;
    };
    for (const c of children.get("") || []) items.push(grow(c));
  }
  list.replaceChildren(...items);
  if (t.current) setCurrent(t.current, false);
}

function drawStanceChart(comments) {
  const counts = {};
  for (const s of data.stances) counts[s] = 0;
  counts["unsure"] = 0;
  counts["none"] = 0;
  for (const c of comments) counts[countedStance(c.stance) || "none"] += 1;
  const names = Object.keys(counts);
  const max = Math.max(1, ...Object.values(counts));
  const rowH = 22, width = 320, labelW = 80;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${names.length * rowH}`, width: String(width), height: String(names.length * rowH), role: "img",
    "aria-label": names.map((n) => `${n} ${counts[n]}`).join(", ") });
  names.forEach((n, i) => {
    const y = i * rowH;
    const w = ((width - labelW - 40) * counts[n]) / max;
    chart.append(
      svg("text", { x: "0", y: String(y + 15), class: "chart-label" }, n),
      svg("rect", { x: String(labelW), y: String(y + 4), width: String(Math.max(w, 1)), height: "14", class: "bar bar-" + n }),
      svg("text", { x: String(labelW + w + 6), y: String(y + 15), class: "chart-value" }, String(counts[n])));
  });
  const fig = $("stance-chart");
  fig.replaceChildren(fig.querySelector("figcaption") || el("figcaption", { text: "Stance toward the article" }), chart);
}

function drawFairness(f) {
  const table = $("fairness");
  const caption = el("caption", { text: "Flagged and rejected by stance" + (f ? " (article " + f.article_id + ")" : "") });
  const head = el("tr", {}, ...["stance", "comments", "flagged", "rejected by model", "rejected by moderators"].map((h) => el("th", { scope: "col", text: h })));
  const pct = (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + " %");
  const rows = f ? [...Object.entries(f.stances), ["unsure (counted under no label)", f.unsure]].map(([s, c]) => el("tr", {},
    el("th", { scope: "row", text: s }), el("td", { text: String(c.total) }),
    el("td", { text: `${c.flagged} (${pct(c.flagged_rate)})` }),
    el("td", { text: `${c.model_rejected} (${pct(c.model_rejected_rate)})` }),
    el("td", { text: `${c.moderator_rejected} (${pct(c.moderator_rejected_rate)})` }))) : [];
  table.replaceChildren(caption, el("thead", {}, head), el("tbody", {}, ...rows));
}

async function setPremoderation(on) {
  const id = view.thread.id;
  try {
    const r = await api(on ? "PUT" : "DELETE", `/v1/premoderation/${encodeURIComponent(id)}`);
    if (!r.ok) throw new Error(errorText(r));
    notice("");
  } catch (err) {
    $("premoderation").checked = !on;
    notice("Pre-moderation was not changed: " + (err.message || "the server cannot be reached"));
  }
}

// ---------- the audit view ----------

let auditCursor = null;

async function loadAudit(more = false) {
  const q = new URLSearchParams({ limit: "50" });
  for (const [k, v] of new FormData($("audit-filters"))) if (v) q.set(k, v);
  if (more && auditCursor) q.set("cursor", auditCursor);
  const current = ask("audit");
  let r;
  try { r = await api("GET", "/v1/audit?" + q); } catch (_) { return notice("The server cannot be reached."); }
  if (!current()) return;
  if (!r.ok) return notice("Could not load the audit log: " + errorText(r));
  const rows = r.data.items.map((e) => {
    let scores = {};
    try { scores = JSON.parse(e.scores || "{}"); } catch (_) { scores = {}; }
    const top = Object.entries(scores).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${label(k)} ${Number(v).toFixed(2)}`);
    return el("tr", {},
      el("td", {}, el("time", { datetime: new Date(Number(e.at) * 1000).toISOString(), text: new Date(Number(e.at) * 1000).toLocaleString() })),
      el("td", { text: e.actor }), el("td", { text: e.action.replaceAll("_", " ") }), auditTarget(e),
      el("td", { text: e.reason }), el("td", { text: top.join(", ") }));
  });
  if (more) $("audit-rows").append(...rows); else $("audit-rows").replaceChildren(...rows);
  auditCursor = r.data.next_cursor;
  $("audit-more").hidden = !auditCursor;
}

// What an audit entry acted on: a comment's words (its id on hover), an author, or a moderator account.
function auditTarget(e) {
  if (e.comment_id) return el("td", { class: "text", title: e.comment_id, text: e.text ?? `${e.comment_id} (text no longer stored)` });
  if (e.account) return el("td", { text: "account " + e.account + (e.until ? ` until ${new Date(Number(e.until) * 1000).toLocaleString()}` : "") });
  if (e.model_version !== null && e.model_version !== undefined) return el("td", { text: "model " + (e.model_version || "shipped") });
  if (e.author_id) return el("td", { text: "author " + e.author_id + (e.until ? ` until ${new Date(Number(e.until) * 1000).toLocaleString()}` : "") });
  return el("td", { text: "" });
}

// ---------- moderator accounts (admins only) ----------

async function loadAccounts() {
  let r;
  try { r = await api("GET", "/v1/accounts"); } catch (_) { return notice("The server cannot be reached."); }
  if (!r.ok) return notice("Could not load the accounts: " + errorText(r));
  const when = (t) => new Date(t * 1000).toLocaleString();
  $("account-rows").replaceChildren(...r.data.items.map((a) => el("tr", { "data-name": a.name },
    el("th", { scope: "row", text: a.name }), el("td", { text: a.role }),
    el("td", { text: `${when(a.created_at)} by ${a.created_by}` }),
    el("td", { text: a.locked_until ? "locked until " + when(a.locked_until) : a.failures ? `${a.failures} wrong password(s)` : "active" }),
    el("td", {},
      el("button", { type: "button", "data-account": "password", text: "New password" }), " ",
      a.locked_until ? el("button", { type: "button", "data-account": "unlock", text: "Unlock" }) : null, " ",
      el("button", { type: "button", "data-account": "remove", text: "Remove" })))));
}

function showSecret(name, password) {
  const box = $("account-secret");
  box.replaceChildren(`Password for ${name}: `, el("code", { text: password }), " (shown once: give it to them now).");
  box.hidden = false;
}

async function createAccount(ev) {
  ev.preventDefault();
  const form = Object.fromEntries(new FormData($("account-form")));
  const name = form.name.trim().toLowerCase();
  let r;
  try { r = await api("POST", "/v1/accounts", { name, role: form.role }); } catch (_) { return notice("The server cannot be reached; no account was created."); }
  if (!r.ok) return notice("No account was created: " + errorText(r));
  notice("");
  $("account-form").reset();
  showSecret(name, r.data.password);
  loadAccounts();
}

async function accountAction(button) {
  const name = button.closest("tr").dataset.name;
  const what = button.dataset.account;
  if (what === "remove" && !confirm(`Remove the account ${name}? It is signed out at once.`)) return;
  const path = `/v1/accounts/${encodeURIComponent(name)}` + (what === "remove" ? "" : "/" + what);
  let r;
  try { r = await api(what === "remove" ? "DELETE" : "POST", path); } catch (_) { return notice("The server cannot be reached; nothing changed."); }
  if (!r.ok) return notice("Nothing changed: " + errorText(r));
  notice("");
  if (what === "password") showSecret(name, r.data.password);
  loadAccounts();
}

// ---------- the model (admins only): labels, candidates with their gate reports, shadow, promote, roll back ----------

async function loadModels() {
  let r;
  try { r = await api("GET", "/v1/models"); } catch (_) { return notice("The server cannot be reached."); }
  if (!r.ok) return notice("Could not load the model versions: " + errorText(r));
  const m = r.data;
  const named = (v) => v || "the shipped model";
  $("models-serving").textContent = `Serving ${named(m.serving)}` + (m.changed_by ? ` (since ${new Date(m.changed_at * 1000).toLocaleString()}, by ${m.changed_by})` : "")
    + `; answers are signed ${m.answering_with}.`;
  const sources = Object.entries(m.labels).filter(([k]) => k !== "total").map(([k, v]) => `${k} ${v.labels} (${v.toxic} toxic)`);
  $("models-labels").textContent = `Labels collected: ${m.labels.total}` + (sources.length ? ` — ${sources.join(", ")}` : "") + ".";
  $("models-rollback").hidden = !m.history.length;
  $("models-rollback").textContent = m.history.length ? `Roll back to ${named(m.history[0])}` : "Roll back";
  const s = m.shadow;
  $("models-shadow").replaceChildren(...(s ? [
    el("p", { text: `Shadow: ${s.version} scores ${Math.round(s.sample * 100)} % of fresh comments beside the served model. `
      + (s.scored ? `${s.scored} scored; same decision on ${(s.agreement * 100).toFixed(1)} %; mean toxicity change ${s.mean_toxicity_difference.toFixed(3)}.` : "Nothing scored yet.") }),
    el("ul", {}, ...Object.entries(s.changed).map(([move, n]) => el("li", { text: `${move.replace(">", " → ")}: ${n}` }))),
    el("button", { type: "button", "data-model": "unshadow", text: "Stop the shadow" }),
  ] : []));
  $("models-rows").replaceChildren(...m.versions.map((v) => {
    const site = v.gate?.site || {};
    const worst = Object.entries(v.gate?.standard || {}).sort((a, b) => a[1].change - b[1].change)[0];
    const passed = v.status === "passed";
    return el("tr", { "data-version": v.id },
      el("th", { scope: "row", text: v.id + (v.id === m.serving ? " (serving)" : "") }),
      el("td", { text: new Date(v.created_at).toLocaleString() + ` from ${v.labels?.trained_on?.labels ?? "?"} labels` }),
      el("td", { class: passed ? "" : "notice", title: (v.reasons || []).join("\n"), text: passed ? "passed" : "rejected: " + (v.reasons || []).join("; ") }),
      el("td", { text: site.served_auc !== undefined ? `${site.served_auc} → ${site.candidate_auc} (${site.difference >= 0 ? "+" : ""}${site.difference})` : "" }),
      el("td", { text: worst ? `worst: ${worst[0]} ${worst[1].change >= 0 ? "+" : ""}${worst[1].change}` : "" }),
      el("td", {}, ...(passed && v.id !== m.serving ? [
        el("button", { type: "button", "data-model": "promote", text: "Promote" }), " ",
        el("button", { type: "button", "data-model": "shadow", text: "Shadow 10 %" })] : [])));
  }));
}

async function modelAction(button) {
  const what = button.dataset.model;
  const version = button.closest("tr")?.dataset.version;
  const calls = {
    promote: ["POST", `/v1/models/${encodeURIComponent(version)}/promote`],
    shadow: ["PUT", `/v1/models/${encodeURIComponent(version)}/shadow`, { sample: 0.1 }],
    unshadow: ["DELETE", "/v1/models/shadow"],
    rollback: ["POST", "/v1/models/rollback"],
  };
  if (what === "promote" && !confirm(`Serve ${version} to this site? Every answer changes within seconds.`)) return;
  let r;
  try { r = await api(...calls[what]); } catch (_) { return notice("The server cannot be reached; nothing changed."); }
  if (!r.ok) return notice("Nothing changed: " + errorText(r));
  notice("");
  loadModels();
}

// ---------- search: stored comments by words, author and time ----------

let searchCursor = null;

async function runSearch(more = false) {
  const form = Object.fromEntries(new FormData($("search-filters")));
  const q = new URLSearchParams({ limit: "50" });
  if (form.q.trim()) q.set("q", form.q.trim());
  if (form.author.trim()) q.set("author", form.author.trim());
  if (form.since) q.set("since", String(new Date(form.since + "T00:00").getTime() / 1000));
  if (form.until) q.set("until", String(new Date(form.until + "T00:00").getTime() / 1000 + 86400));
  if (more && searchCursor) q.set("cursor", searchCursor);
  let r;
  const current = ask("search");
  try { r = await api("GET", "/v1/search?" + q); } catch (_) { return notice("The server cannot be reached."); }
  if (!current()) return;
  if (!r.ok) return notice("No search: " + errorText(r));
  notice("");
  const rows = r.data.items.map((c) => el("tr", { "data-id": c.id },
    el("td", {}, el("time", { datetime: new Date(c.received_at * 1000).toISOString(), text: new Date(c.received_at * 1000).toLocaleString() })),
    el("td", { text: c.author_name ? `${c.author_name} [${c.author_id}]` : c.author_id || "" }),
    el("td", { class: "text", text: c.text }),
    el("td", { text: c.decision ? `${c.decision} (${c.decided_by})` : c.status || "" }),
    el("td", { text: (c.scores.toxicity ?? 0).toFixed(2) })));
  if (more) $("search-rows").append(...rows); else $("search-rows").replaceChildren(...rows);
  searchCursor = r.data.next_cursor;
  $("search-more").hidden = !searchCursor;
  const shown = $("search-rows").children.length;
  $("search-summary").textContent = (shown ? `${shown}${searchCursor ? "+" : ""} comment${shown === 1 ? "" : "s"} found, newest first.` : "Nothing found.")
    + (r.data.pending ? ` (${r.data.pending} just stored are not searchable yet.)` : "");
}

// ---------- the policy (admins only): thresholds and word lists, previewed, then saved ----------

let policyLoaded = null; // {version, policy} as last read

async function loadPolicy() {
  let r;
  try { r = await api("GET", "/v1/policy"); } catch (_) { return notice("The server cannot be reached."); }
  if (!r.ok) return notice("Could not load the policy: " + errorText(r));
  policyLoaded = r.data;
  const p = r.data.policy;
  $("policy-version").textContent = r.data.source === "settings"
    ? "In force: the starting policy from the settings (version 0)."
    : `In force: version ${r.data.version}, saved by ${r.data.by} on ${new Date(r.data.at * 1000).toLocaleString()}: ${r.data.note}`;
  // step "any": a threshold is as precise as it was written (the built-in ones have three places, 0.751), and a step
  // it does not fit makes the browser refuse the whole form without a word
  const box = (kind, name) => el("input", { type: "number", min: "0", max: "1", step: "any", name: `${kind}.${name}`,
    "aria-label": `${kind} at, ${label(name)}`, value: p[kind][name] ?? "" });
  $("policy-thresholds").replaceChildren(...data.attributes.map((name) => el("tr", {},
    el("th", { scope: "row", text: label(name) }), el("td", {}, box("review", name)), el("td", {}, box("reject", name)))));
  $("policy-scale").textContent = p.scale === "raw"
    ? "Thresholds on the model's raw scores, as the built-in defaults are written (0 to 1; empty: none)"
    : "Thresholds on the calibrated scores the API answers (0 to 1; empty: none)";
  $("policy-language").value = p.unsupported_language;
  $("policy-suspect").value = p.suspect_words.join("\n");
  $("policy-banned").value = p.banned_words.join("\n");
  $("policy-moves").replaceChildren();
}

function proposedPolicy() {
  const policy = { ...policyLoaded.policy, review: {}, reject: {} };
  for (const input of $("policy-thresholds").querySelectorAll("input")) {
    const [kind, name] = input.name.split(".");
    if (input.value !== "") policy[kind][name] = Number(input.value);
  }
  policy.unsupported_language = $("policy-language").value;
  const lines = (id) => $(id).value.split("\n").map((w) => w.trim()).filter(Boolean);
  policy.suspect_words = lines("policy-suspect");
  policy.banned_words = lines("policy-banned");
  return policy;
}

async function previewPolicy() {
  let r;
  try { r = await api("POST", "/v1/policy/preview", { policy: proposedPolicy() }); } catch (_) { return notice("The server cannot be reached."); }
  if (!r.ok) return notice("No preview: " + errorText(r));
  notice("");
  const moves = Object.entries(r.data.moves).map(([move, m]) => el("section", { class: "move" },
    el("h3", { text: `${move.replace("->", " → ")}: ${m.count}` }),
    el("ul", {}, ...m.examples.map((e) => el("li", {}, el("span", { text: e.text }),
      el("span", { class: "age", text: " " + (e.reasons.join("; ") || "no reason") }))))));
  $("policy-moves").replaceChildren(
    el("p", { text: `${r.data.moved} of the last ${r.data.compared} scored comments would be decided differently.` }), ...moves);
}

async function savePolicy(ev) {
  ev.preventDefault();
  const note = $("policy-note").value.trim();
  if (!note) { notice("Say why: the note is kept with the version."); $("policy-note").focus(); return; }
  let r;
  try {
    r = await api("PUT", "/v1/policy", { policy: proposedPolicy(), note, expected_version: policyLoaded.version });
  } catch (_) { return notice("The server cannot be reached; the policy was not changed."); }
  if (!r.ok) return notice("The policy was not saved: " + errorText(r));
  notice("");
  $("policy-note").value = "";
  await loadPolicy();
  $("policy-moves").replaceChildren(el("p", { text: `Saved as version ${r.data.version}: in force everywhere within seconds.` }));
}

// ---------- decided comments, and reversing a decision ----------

let decidedCursor = null;

async function loadDecided(more = false) {
  const form = Object.fromEntries(new FormData($("decided-filters")));
  const q = new URLSearchParams({ limit: "50" });
  if (form.thread) q.set("thread", form.thread);
  if (more && decidedCursor) q.set("cursor", decidedCursor);
  const current = ask("decided");
  let r;
  try { r = await api("GET", `/v1/decided/${form.view}?` + q); } catch (_) { return notice("The server cannot be reached."); }
  if (!current()) return;
  if (!r.ok) return notice("Could not load decided comments: " + errorText(r));
  const rows = r.data.items.map((c) => {
    const reason = el("input", { type: "text", size: "18", "aria-label": "reason to reverse " + c.id, placeholder: "reason (required)" });
    const to = c.decision === "reject" ? "approve" : "reject";
    const reverse = el("button", { type: "button", "data-reverse": to, "data-id": c.id, text: to === "approve" ? "Approve instead" : "Reject instead" });
    return el("tr", { "data-id": c.id },
      el("td", {}, el("time", { datetime: new Date(c.decided_at * 1000).toISOString(), text: new Date(c.decided_at * 1000).toLocaleString() })),
      el("td", { text: c.decision || "" }), el("td", { text: c.decided_by || "" }),
      el("td", { class: "text", text: c.text }), el("td", { text: c.decision_reason || (c.reasons || []).join(", ") }),
      el("td", {}, reason, reverse));
  });
  if (more) $("decided-rows").append(...rows); else $("decided-rows").replaceChildren(...rows);
  decidedCursor = r.data.next_cursor;
  $("decided-more").hidden = !decidedCursor;
}

async function reverse(button) {
  const row = button.closest("tr");
  const reason = row.querySelector("input").value.trim();
  if (!reason) { notice("A reversal needs a reason."); row.querySelector("input").focus(); return; }
  let r;
  try {
    r = await api("POST", `/v1/comments/${encodeURIComponent(button.dataset.id)}/decision`, { decision: button.dataset.reverse, reason, reverse: true });
  } catch (_) { return notice("The server cannot be reached; the decision was not changed."); }
  if (!r.ok) return notice("The decision was not changed: " + errorText(r));
  notice("");
  row.remove(); // it has left this view for the other one
}

// ---------- an author: their comments, record and standing ----------

async function showAuthor(id) {
  if (!id) return notice("This comment has no author id.");
  let r;
  try { r = await api("GET", `/v1/authors/${encodeURIComponent(id)}`); } catch (_) { return notice("The server cannot be reached."); }
  if (!r.ok) return notice("Could not load the author: " + errorText(r));
  const a = r.data;
  $("author").dataset.id = a.author_id;
  $("author-title").textContent = a.author_name ? `${a.author_name} [${a.author_id}]` : a.author_id;
  $("author-record").textContent = `${a.record.comments} comments, ${a.record.flagged} flagged, ${a.record.rejected} rejected`;
  const s = a.standing;
  $("author-standing").textContent = s
    ? `${s.standing} by ${s.by}: ${s.reason}` + (s.until ? ` (until ${new Date(s.until * 1000).toLocaleString()})` : "")
    : "No standing: comments are decided on their scores.";
  $("author-comments").replaceChildren(...a.comments.map((c) => el("li", { "data-id": c.id },
    el("span", { class: "badge" + (c.decision === "reject" ? " warn" : ""), text: c.decision || c.status }),
    c.reports ? el("span", { class: "badge warn", text: `${c.reports} report${c.reports > 1 ? "s" : ""}` + (c.last_report ? ": " + c.last_report : "") }) : null,
    " ", el("span", { text: c.text }),
    el("span", { class: "age", text: " toxicity " + (c.scores.toxicity ?? 0).toFixed(2) + " · " + ago(c.received_at) }))));
  if (!$("author").open) $("author").showModal();
}

async function setStanding(ev) {
  ev.preventDefault();
  const form = Object.fromEntries(new FormData($("author-form")));
  const body = { standing: form.standing, reason: form.reason.trim() };
  if (form.hours) body.until = Date.now() / 1000 + Number(form.hours) * 3600;
  const id = $("author").dataset.id;
  let r;
  const say = (text) => { $("author-error").textContent = text; $("author-error").hidden = !text; };
  try { r = await api("POST", `/v1/authors/${encodeURIComponent(id)}/standing`, body); } catch (_) { return say("The server cannot be reached; nothing changed."); }
  if (!r.ok) return say("The standing was not changed: " + errorText(r));
  say("");
  $("author-form").reset();
  showAuthor(id);
}

function currentAuthor() {
  if (view.thread) { const c = threadComment(view.thread.current); return c && c.author_id; }
  const item = view.items.get(view.current);
  return item && item.author_id;
}

// ---------- views, keys and wiring ----------

function route() {
  const hash = location.hash || "#queue";
  const thread = hash.startsWith("#thread=") ? decodeURIComponent(hash.slice(8)) : null;
  const accounts = $("accounts-view"), policy = $("policy-view"), models = $("models-view"); // admins only
  const other = hash === "#audit" || hash === "#decided" || hash === "#search" || (hash === "#accounts" && accounts) || (hash === "#policy" && policy)
    || (hash === "#models" && models);
  $("queue-view").hidden = !!thread || !!other;
  $("thread-view").hidden = !thread;
  $("audit-view").hidden = hash !== "#audit";
  $("decided-view").hidden = hash !== "#decided";
  $("search-view").hidden = hash !== "#search";
  if (accounts) accounts.hidden = hash !== "#accounts";
  if (policy) policy.hidden = hash !== "#policy";
  if (models) models.hidden = hash !== "#models";
  view.thread = thread ? view.thread : null;
  if (thread) showThread(thread);
  if (hash === "#audit") loadAudit();
  if (hash === "#decided") loadDecided();
  if (hash === "#accounts" && accounts) loadAccounts();
  if (hash === "#policy" && policy) loadPolicy();
  if (hash === "#models" && models) loadModels();
}

function move(step) {
  const list = currentList();
  const ids = [...list.querySelectorAll("li.item")].map((li) => li.dataset.id);
  if (!ids.length) return;
  const at = ids.indexOf(view.thread ? view.thread.current : view.current);
  setCurrent(ids[Math.min(ids.length - 1, Math.max(0, at + step))] || ids[0]);
}

function actOn(action) {
  if (view.thread) {
    const c = threadComment(view.thread.current);
    if (c && c.queue) decide(action, [c.id]);
    return;
  }
  decide(action, view.selected.size ? [...view.selected] : [view.current]);
}

const KEYS = {
  j: () => move(1), k: () => move(-1),
  a: () => actOn("approve"), r: () => actOn("reject"), e: () => actOn("escalate"),
  u: () => undo(),
  x: () => { if (!view.current || view.thread) return; toggleSelect(view.current); },
  t: () => {
    const item = view.items.get(view.current);
    if (!item || !item.thread_id || view.thread) return;
    view.threadFrom = item.id;
    location.hash = "#thread=" + encodeURIComponent(item.thread_id);
  },
  n: () => $("reason").focus(), // then the arrow keys choose; the choice sends focus back to the comment
  p: () => showAuthor(currentAuthor()),
  "?": () => $("help").showModal(),
  "/": () => $("search-q").focus(),
  1: () => switchQueue(data.queues[0]), 2: () => switchQueue(data.queues[1]), 3: () => switchQueue(data.queues[2]),
};

function toggleSelect(id) {
  if (view.selected.has(id)) view.selected.delete(id); else view.selected.add(id);
  const box = $("items").querySelector(`input.select[data-id="${CSS.escape(id)}"]`);
  if (box) box.checked = view.selected.has(id);
  refreshEmpty();
}

function switchQueue(name) {
  if (!name) return;
  const shown = (id) => $(id) && !$(id).hidden;
  const elsewhere = ["audit-view", "decided-view", "search-view", "accounts-view", "policy-view", "models-view"].some(shown);
  if (view.thread || elsewhere) { // from any view: back to the queues
    view.thread = null;
    location.hash = "#queue";
  }
  releaseAll();
  view.held.clear();
  view.queue = name;
  view.selected.clear();
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-pressed", String(b.dataset.queue === name));
  loadQueue();
}

// Keys are shortcuts except where they are text: a checkbox or a button keeps them working.
function typing(target) {
  if (!target.closest) return false;
  if (target.closest("textarea, select, dialog[open], [contenteditable]")) return true;
  return target.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(target.type);
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (typing(ev.target)) return;
  const handler = KEYS[ev.key];
  if (handler) { ev.preventDefault(); handler(); }
});

document.addEventListener("click", (ev) => {
  const act = ev.target.closest("button[data-act]");
  if (act) { decide(act.dataset.act, [act.dataset.id]); return; }
  const bulk = ev.target.closest("button[data-bulk]");
  if (bulk) { decide(bulk.dataset.bulk, [...view.selected]); return; }
  const li = ev.target.closest("li.item");
  if (li && !ev.target.closest("a, button, input")) setCurrent(li.dataset.id);
});

$("items").addEventListener("change", (ev) => {
  if (ev.target.matches("input.select")) toggleSelect(ev.target.dataset.id);
});
for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => switchQueue(b.dataset.queue));
$("filters").addEventListener("change", () => {
  view.filters = Object.fromEntries(new FormData($("filters")));
  loadQueue();
});
$("filters").addEventListener("submit", (ev) => { ev.preventDefault(); });
$("more").addEventListener("click", async () => {
  const r = await api("GET", queuePath(view.cursor)).catch(() => null);
  if (!r || !r.ok) return notice("Could not load more.");
  for (const item of r.data.items) upsert(item);
  view.cursor = r.data.next_cursor;
  $("more").hidden = !view.cursor;
});
$("undo").addEventListener("click", undo);
$("reason").addEventListener("change", () => setCurrent(view.thread ? view.thread.current : view.current));
$("help-open").addEventListener("click", () => $("help").showModal());
$("author-form").addEventListener("submit", setStanding);
$("premoderation").addEventListener("change", (ev) => setPremoderation(ev.target.checked));
$("thread-order").addEventListener("change", () => view.thread && drawThreadComments());
$("audit-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(); });
$("audit-more").addEventListener("click", () => loadAudit(true));
$("decided-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadDecided(); });
$("decided-which").addEventListener("change", () => loadDecided());
$("decided-more").addEventListener("click", () => loadDecided(true));
$("decided-rows").addEventListener("click", (ev) => {
  const button = ev.target.closest("button[data-reverse]");
  if (button) reverse(button);
});
$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("search-words").value = $("search-q").value;
  if (location.hash !== "#search") location.hash = "#search";
  runSearch();
});
$("search-filters").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(); });
$("search-more").addEventListener("click", () => runSearch(true));
if ($("policy-view")) {
  $("policy-form").addEventListener("submit", savePolicy);
  $("policy-preview").addEventListener("click", previewPolicy);
}
if ($("models-view")) {
  $("models-view").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-model]");
    if (button) modelAction(button);
  });
  $("models-rollback").dataset.model = "rollback";
}
if ($("accounts-view")) {
  $("account-form").addEventListener("submit", createAccount);
  $("account-rows").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-account]");
    if (button) accountAction(button);
  });
}
window.addEventListener("hashchange", route);
window.addEventListener("pagehide", () => { // leaving: send what is waiting at once, give back the leases
  if (view.undo) {
    for (const e of view.undo.entries) {
      sendDecision(e, { keepalive: true }).catch(() => {});
    }
  }
  releaseAll();
});

showItems(data.items, data.next_cursor);
replayPending();
route();
topUp();
connect();
setInterval(renew, Math.max(5, data.lease_s / 3) * 1000);
