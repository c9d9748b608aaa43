// livelens supervisor dashboard: vanilla JavaScript, no build step, no external resources.
// Views (hash routes): #/wall, #/contact/<ContactId>, #/history, #/rules; the instance is chosen in the header.

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const API = "/dashboard/api";
const SENTIMENT_SCORE = { POSITIVE: 1, NEUTRAL: 0, MIXED: 0, NEGATIVE: -1 };
const TREND_SIGN = { up: "▲ up", down: "▼ down", flat: "▬ flat" };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(API + path, { credentials: "same-origin", ...options });
  if (response.status === 401) { location.reload(); throw new Error("signed out"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.Message || response.statusText);
  return body;
}

// A stream that says it is closed because the session ended: show the sign-in page.
async function checkSession() {
  const response = await fetch(API + "/instances", { credentials: "same-origin" });
  if (response.status === 401) location.reload();
}

function duration(fromIso, toIso) {
  const seconds = Math.max(0, Math.floor(((toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso)) / 1000));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
}

function sentimentLabel(sentiment, trend) {
  const span = el("span", { class: "sent " + (sentiment || "") });
  span.textContent = (sentiment || "—") + (trend ? " " + TREND_SIGN[trend] : "");
  if (trend) span.title = "trend: " + trend;
  return span;
}

// ---------------------------------------------------------------- state and routing
const state = { instance: null, view: null, wall: null, contact: null };

async function loadInstances() {
  const { Instances } = await api("/instances");
  const select = $("instance");
  select.replaceChildren(...Instances.map((i) => el("option", { value: i.Id, text: i.InstanceAlias || i.Id })));
  // ?instance=ID (a shared link) wins over the choice remembered in this tab.
  const wanted = new URLSearchParams(location.search).get("instance") || sessionStorage.getItem("livelens-instance");
  if (wanted && Instances.some((i) => i.Id === wanted)) select.value = wanted;
  state.instance = select.value || null;
  select.addEventListener("change", () => {
    state.instance = select.value;
    sessionStorage.setItem("livelens-instance", select.value);
    route(true);
  });
}

function route(force = false) {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const view = parts[0] || "wall";
  for (const name of ["wall", "contact", "history", "rules"]) $(name + "-view").hidden = name !== view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.nav === view) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (view !== "wall" && state.wall) { state.wall.close(); state.wall = null; }
  if (view !== "contact" && state.contact) { state.contact.close(); state.contact = null; }
  if (!state.instance) return;
  if (view === "wall" && (!state.wall || force)) { state.wall?.close(); state.wall = new LiveWall(state.instance); }
  if (view === "contact") { state.contact?.close(); state.contact = new ContactView(state.instance, parts[1], parts[2]); }
  if (view === "history") history_();
  if (view === "rules") rules();
  state.view = view;
}

// ---------------------------------------------------------------- the live wall
class LiveWall {
  constructor(instance) {
    this.instance = instance;
    this.cards = new Map(); // ContactId -> card
    this.rows = new Map(); // ContactId -> <tr>
    this.order = [];
    this.pending = false;
    this.body = $("wall-rows");
    this.body.replaceChildren();
    this.filter = $("wall-filter");
    this.onFilter = () => this.schedule();
    this.filter.addEventListener("input", this.onFilter);
    this.timer = setInterval(() => this.tick(), 1000);
    this.source = new EventSource(`${API}/instances/${encodeURIComponent(instance)}/wall`);
    this.source.addEventListener("snapshot", (e) => {
      const { Cards } = JSON.parse(e.data);
      const seen = new Set(Cards.map((c) => c.ContactId));
      for (const id of [...this.cards.keys()]) if (!seen.has(id)) this.remove(id);
      for (const card of Cards) this.cards.set(card.ContactId, card);
      this.dirty = new Set(seen);
      $("wall-state").textContent = "live";
      this.schedule();
    });
    this.source.addEventListener("update", (e) => {
      const { Cards, Removed } = JSON.parse(e.data);
      this.dirty = this.dirty || new Set();
      for (const card of Cards) { this.cards.set(card.ContactId, card); this.dirty.add(card.ContactId); }
      for (const id of Removed) this.remove(id);
      this.schedule();
    });
    this.source.onerror = () => {
      $("wall-state").textContent = "reconnecting…";
      if (this.source.readyState === EventSource.CLOSED) checkSession();
    };
  }

  close() {
    this.source.close();
    clearInterval(this.timer);
    this.filter.removeEventListener("input", this.onFilter);
  }

  remove(id) {
    this.cards.delete(id);
    this.rows.get(id)?.remove();
    this.rows.delete(id);
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  // Only changed rows are rebuilt; rows move only when the order changed.
  render() {
    for (const id of this.dirty || []) {
      const card = this.cards.get(id);
      if (!card) continue;
      const row = this.row(card);
      const old = this.rows.get(id);
      if (old) old.replaceWith(row);
      this.rows.set(id, row);
    }
    this.dirty = new Set();
    const sorted = [...this.cards.values()].sort((a, b) =>
      (b.Alerts.length - a.Alerts.length) || a.InitiationTimestamp.localeCompare(b.InitiationTimestamp)
      || a.ContactId.localeCompare(b.ContactId));
    const order = sorted.map((c) => c.ContactId);
    if (order.length !== this.order.length || order.some((id, i) => id !== this.order[i])
        || this.body.children.length !== order.length) {
      const fragment = document.createDocumentFragment();
      for (const id of order) fragment.append(this.rows.get(id));
      this.body.replaceChildren(fragment);
      this.order = order;
    }
    const needle = this.filter.value.trim().toLowerCase();
    let shown = 0;
    for (const card of sorted) {
      const row = this.rows.get(card.ContactId);
      const visible = !needle || row.dataset.text.includes(needle);
      row.hidden = !visible;
      if (visible) shown++;
    }
    const live = sorted.filter((c) => !c.Ended).length;
    $("wall-count").textContent = `${live} live, ${sorted.length - live} recently ended` +
      (needle ? `, ${shown} shown` : "");
  }

  tick() {
    for (const [id, row] of this.rows) {
      const card = this.cards.get(id);
      if (card && !card.Ended && !row.hidden) row.querySelector(".duration").textContent = duration(card.InitiationTimestamp);
    }
  }

  row(card) {
    const alerts = card.Alerts;
    const button = el("button", {
      class: "alerts-button" + (alerts.length ? " hot" : ""), type: "button", "aria-expanded": "false",
      "aria-label": `${alerts.length} alert${alerts.length === 1 ? "" : "s"}` + (alerts.length ? ", show matched text" : ""),
      text: alerts.length ? "⚠ " + alerts.length : "0",
      disabled: alerts.length ? undefined : true,
    });
    button.addEventListener("click", () => togglePopover(button, alerts));
    const last = card.LastTurn;
    const link = el("a", { href: `#/contact/${card.ContactId}`, text: card.ContactId.slice(0, 8) });
    const row = el("tr", { class: card.Ended ? "ended" : "", "data-contact-id": card.ContactId },
      el("td", {}, button),
      el("td", {}, link, card.Ended ? el("span", { class: "muted", text: " (ended)" }) : null),
      el("td", { text: card.Channel }),
      el("td", { text: card.Participants.join(", ") }),
      el("td", { class: "duration", text: duration(card.InitiationTimestamp, card.DisconnectTimestamp) }),
      el("td", {}, sentimentLabel(card.Sentiment, card.Sentiment ? card.Trend : null)),
      el("td", { text: card.Issue || "" }),
      el("td", {}, card.Categories.map((c) => el("span", { class: "pill", text: c }))),
      el("td", { class: "last", title: last ? last.Content : "" }, last ? `${last.Role}: ${last.Content}` : ""),
    );
    row.dataset.text = [card.ContactId, card.Channel, card.Participants.join(" "), card.Issue || "",
      card.Categories.join(" "), last ? last.Content : "", card.Sentiment || ""].join(" ").toLowerCase();
    return row;
  }
}

function togglePopover(button, alerts) {
  const open = document.querySelector(".popover");
  if (open) { open.remove(); document.querySelector('[aria-expanded="true"]')?.setAttribute("aria-expanded", "false"); }
  if (open && open.owner === button) return;
  const box = el("div", { class: "popover", role: "dialog", "aria-label": "Alerts" },
    el("ul", {}, alerts.map((a) => el("li", {}, el("strong", { text: a.Rule }), ": ",
      a.Matched.length ? a.Matched.map((m, i) => [i ? ", " : "", el("mark", { text: m })]) : "(matched at contact level)"))));
  box.owner = button;
  const rect = button.getBoundingClientRect();
  box.style.left = rect.left + window.scrollX + "px";
  box.style.top = rect.bottom + window.scrollY + 2 + "px";
  document.body.append(box);
  button.setAttribute("aria-expanded", "true");
  box.tabIndex = -1;
  box.focus();
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") { box.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); } });
}
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { document.querySelector(".popover")?.remove(); }
});

// ---------------------------------------------------------------- the contact view
class ContactView {
  constructor(instance, contactId, view) {
    this.instance = instance;
    this.contactId = contactId;
    this.turns = new Map(); // Id -> {body, issues, matches, el}
    this.order = [];
    this.closed = false;
    for (const id of ["transcript", "alerts", "events", "attachments", "chart"]) $(id).replaceChildren();
    $("summary").replaceChildren(el("p", { class: "muted", text: "The summary appears when the contact ends." }));
    this.alertMap = new Map();
    this.start(view);
  }

  async start(view) {
    const base = `/instances/${encodeURIComponent(this.instance)}/contacts/${encodeURIComponent(this.contactId)}`;
    let info;
    try { info = await api(base); } catch (error) { $("contact-state").textContent = error.message; return; }
    if (this.closed) return;
    this.info = info;
    this.view = info.Views.includes(view) ? view : info.Views[0];
    $("contact-title").textContent = `Contact ${info.ContactId}`;
    document.title = `Contact ${info.ContactId.slice(0, 8)} · livelens`;
    $("contact-meta").textContent = [info.Channel, `redaction ${info.RedactionPolicy}`,
      "started " + new Date(info.InitiationTimestamp).toLocaleString(),
      info.Participants.map((p) => `${p.DisplayName} (${p.Role})`).join(", ")].filter(Boolean).join(" · ");
    const choice = $("view-choice");
    choice.replaceChildren(el("legend", { text: "View" }), ...info.Views.map((v) => el("label", {},
      el("input", { type: "radio", name: "view", value: v, checked: v === this.view ? true : undefined,
        onchange: () => { location.hash = `#/contact/${this.contactId}/${v}`; } }), " " + v)));
    const exportQuery = info.Channel === "CHAT" ? `&view=${this.view}` : "";
    $("export-json").href = `${API}${base}/export?format=json${exportQuery}`;
    $("export-csv").href = `${API}${base}/export?format=csv${exportQuery}`;
    const query = info.Channel === "CHAT" ? `?OutputType=${this.view}` : "";
    this.source = new EventSource(`${API}${base}/stream${query}`);
    $("contact-state").textContent = "connecting…";
    this.source.addEventListener("open", () => { $("contact-state").textContent = "live"; });
    this.source.addEventListener("segment", (e) => this.segment(JSON.parse(e.data)));
    this.source.addEventListener("end", (e) => {
      const { Status } = JSON.parse(e.data);
      $("contact-state").textContent = `analysis ${Status}`;
      this.source.close();
    });
    this.source.addEventListener("error", (e) => {
      if (e.data) { $("contact-state").textContent = JSON.parse(e.data).Message; this.source.close(); return; }
      $("contact-state").textContent = "reconnecting…";
      if (this.source.readyState === EventSource.CLOSED) checkSession();
    });
  }

  close() { this.closed = true; this.source?.close(); }

  segment(segment) {
    const [kind, body] = Object.entries(segment)[0];
    if (kind === "Transcript") this.transcript(body);
    else if (kind === "Issues") {
      for (const issue of body.IssuesDetected || []) for (const item of issue.TranscriptItems || []) {
        const turn = this.turns.get(item.Id);
        if (turn && item.CharacterOffsets) { turn.issues.push(item.CharacterOffsets); this.renderTurn(turn); }
      }
    } else if (kind === "Categories") this.categories(body);
    else if (kind === "Event") {
      $("events").append(el("li", {}, `${new Date(body.Time.AbsoluteTime).toLocaleTimeString()} `,
        el("code", { text: body.EventType.split(".").slice(-2).join(".") }),
        body.DisplayName ? ` ${body.DisplayName}` : "", body.ParticipantRole ? ` (${body.ParticipantRole})` : ""));
    } else if (kind === "Attachments") {
      for (const a of body.Attachments || []) {
        $("attachments").append(el("li", {}, `${a.AttachmentName} (${a.ContentType}, ${a.Status || ""})`,
          body.DisplayName ? ` from ${body.DisplayName}` : ""));
      }
    } else if (kind === "PostContactSummary") {
      $("summary").replaceChildren(body.Content ? el("p", { id: "summary-text", text: body.Content })
        : el("p", { class: "muted", text: `Summary ${body.Status}${body.FailureCode ? ": " + body.FailureCode : ""}` }));
    }
  }

  transcript(body) {
    if (this.turns.has(body.Id)) return; // a resumed stream never repeats, but be safe
    const issues = (body.IssuesDetected || []).map((i) => i.CharacterOffsets);
    const turn = { body, issues, matches: [], index: this.order.length, el: el("li", { "data-turn-id": body.Id }) };
    this.turns.set(body.Id, turn);
    this.order.push(turn);
    this.renderTurn(turn);
    const list = $("transcript");
    list.append(turn.el);
    if ($("autoscroll").checked) list.scrollTop = list.scrollHeight;
    this.chart();
  }

  categories(body) {
    for (const [rule, details] of Object.entries(body.MatchedDetails || {})) {
      const found = this.alertMap.get(rule) || { rule, words: [] };
      this.alertMap.set(rule, found);
      for (const point of details.PointsOfInterest || []) {
        for (const item of point.TranscriptItems || []) {
          const turn = this.turns.get(item.Id);
          if (!turn) continue;
          const offsets = item.CharacterOffsets || { BeginOffsetChar: 0, EndOffsetChar: turn.body.Content.length };
          turn.matches.push({ rule, ...offsets });
          found.words.push(turn.body.Content.slice(offsets.BeginOffsetChar, offsets.EndOffsetChar));
          this.renderTurn(turn);
        }
        if (point.BeginOffsetMillis !== undefined) { // VOICE: a time span
          for (const turn of this.order) {
            if (turn.body.BeginOffsetMillis < point.EndOffsetMillis && turn.body.EndOffsetMillis > point.BeginOffsetMillis) {
              turn.matches.push({ rule, BeginOffsetChar: 0, EndOffsetChar: turn.body.Content.length });
              found.words.push(turn.body.Content);
              this.renderTurn(turn);
            }
          }
        }
      }
    }
    $("alerts").replaceChildren(...[...this.alertMap.values()].map((a) => el("li", { class: "alert-item" },
      el("span", { class: "pill", text: a.rule }), " ",
      a.words.length ? a.words.map((w, i) => [i ? ", " : "", el("mark", { class: "match", text: w })]) : "")));
  }

  // The turn's text with its spans marked: PII (badges in Redacted view), issues, rule matches.
  renderTurn(turn) {
    const { body } = turn;
    const text = body.Content || "";
    const spans = [];
    for (const r of (body.Redaction && body.Redaction.CharacterOffsets) || []) spans.push({ ...r, kind: "pii" });
    if (!body.Redaction && this.view === "Redacted" && this.info.RedactionPolicy !== "None") {
      // V1 (voice) carries no redaction offsets: its placeholders ([PII], [EMAIL], …) become badges.
      for (const found of text.matchAll(/\[[A-Z][A-Z_]*\]/g)) {
        spans.push({ BeginOffsetChar: found.index, EndOffsetChar: found.index + found[0].length, kind: "pii" });
      }
    }
    for (const i of turn.issues) spans.push({ ...i, kind: "issue" });
    for (const m of turn.matches) spans.push({ ...m, kind: "match" });
    const cuts = new Set([0, text.length]);
    for (const s of spans) { cuts.add(Math.max(0, Math.min(text.length, s.BeginOffsetChar))); cuts.add(Math.max(0, Math.min(text.length, s.EndOffsetChar))); }
    const points = [...cuts].sort((a, b) => a - b);
    const content = el("span", { class: "content" });
    for (let i = 0; i + 1 < points.length; i++) {
      const [b, e] = [points[i], points[i + 1]];
      const covering = spans.filter((s) => s.BeginOffsetChar <= b && s.EndOffsetChar >= e);
      let node = document.createTextNode(text.slice(b, e));
      if (covering.some((s) => s.kind === "match")) {
        node = el("mark", { class: "match", title: "rule: " + covering.filter((s) => s.kind === "match").map((s) => s.rule).join(", ") }, node);
      }
      if (covering.some((s) => s.kind === "issue")) node = el("mark", { class: "issue", title: "issue" }, node);
      if (covering.some((s) => s.kind === "pii")) {
        node = el("span", { class: this.view === "Raw" ? "pii-raw" : "pii", title: "personal data" }, node);
      }
      content.append(node);
    }
    const when = body.Time ? new Date(body.Time.AbsoluteTime).toLocaleTimeString()
      : (body.BeginOffsetMillis !== undefined ? duration(new Date(0).toISOString(), new Date(body.BeginOffsetMillis).toISOString()) : "");
    const rules = [...new Set(turn.matches.map((m) => m.rule))];
    turn.el.replaceChildren(...[
      el("span", { class: "who", text: (body.DisplayName && body.DisplayName.toUpperCase() !== body.ParticipantRole
        ? `${body.DisplayName} (${body.ParticipantRole})` : body.ParticipantRole) + ":" }), content,
      el("span", { class: "meta" }, when, " · ", sentimentLabel(body.Sentiment || null, null)),
      turn.issues.length ? el("span", { class: "turn-alert", text: " · issue" }) : null,
      rules.length ? el("span", { class: "turn-alert", text: " · ⚠ " + rules.join(", ") }) : null].filter(Boolean));
    turn.el.dataset.sentiment = body.Sentiment || "";
  }

  // Sentiment over time, one line per participant role (inline SVG; dashes and labels, not only colour).
  chart() {
    const width = 320, height = 120, pad = 24;
    const roles = [...new Set(this.order.map((t) => t.body.ParticipantRole))];
    const n = Math.max(2, this.order.length);
    const x = (i) => pad + (i * (width - 2 * pad)) / (n - 1);
    const y = (score) => height / 2 - (score * (height / 2 - 12));
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    svg.setAttribute("role", "img");
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text) node.textContent = text;
      svg.append(node);
      return node;
    };
    add("line", { x1: pad, x2: width - pad, y1: y(0), y2: y(0), stroke: "#ccc" });
    add("text", { x: 0, y: y(1) + 4 }, "+"); add("text", { x: 0, y: y(-1) + 4 }, "−");
    const styles = [["#0b5cad", ""], ["#b3261e", "5 3"], ["#17703a", "2 2"], ["#7a4b00", "8 2 2 2"]];
    const summary = [];
    roles.forEach((role, r) => {
      const turns = this.order.filter((t) => t.body.ParticipantRole === role && t.body.Sentiment in SENTIMENT_SCORE);
      if (!turns.length) return;
      const [color, dash] = styles[r % styles.length];
      const points = turns.map((t) => `${x(t.index)},${y(SENTIMENT_SCORE[t.body.Sentiment])}`).join(" ");
      add("polyline", { points, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash, "data-role": role });
      for (const t of turns) {
        add("circle", { cx: x(t.index), cy: y(SENTIMENT_SCORE[t.body.Sentiment]), r: 3, fill: color })
          .append(Object.assign(document.createElementNS(ns, "title"), { textContent: `${role}: ${t.body.Sentiment}` }));
      }
      add("text", { x: width - pad - 70, y: 10 + 11 * r, fill: color }, `${dash ? "- -" : "——"} ${role}`);
      summary.push(`${role}: ${turns.map((t) => t.body.Sentiment).join(", ")}`);
    });
    svg.setAttribute("aria-label", "Sentiment over time. " + summary.join(". "));
    $("chart").replaceChildren(svg);
  }
}

// ---------------------------------------------------------------- history
function history_() {
  const form = $("history-form");
  if (!form.dataset.bound) {
    form.dataset.bound = "1";
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const query = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
      $("history-state").textContent = "searching…";
      try {
        const { Contacts } = await api(`/instances/${encodeURIComponent(state.instance)}/history?${query}`);
        $("history-rows").replaceChildren(...Contacts.map((c) => el("tr", {},
          el("td", {}, el("a", { href: `#/contact/${c.ContactId}`, text: c.ContactId.slice(0, 8) })),
          el("td", { text: c.Channel }),
          el("td", { text: new Date(c.InitiationTimestamp).toLocaleString() }),
          el("td", {}, sentimentLabel(c.Sentiment, c.Sentiment ? c.Trend : null)),
          el("td", { text: c.Issue || "" }),
          el("td", {}, c.Categories.map((n) => el("span", { class: "pill", text: n }))),
          el("td", { text: c.Summary || "" }))));
        $("history-state").textContent = `${Contacts.length} ended contact${Contacts.length === 1 ? "" : "s"} found`;
      } catch (error) { $("history-state").textContent = error.message; }
    });
  }
  form.requestSubmit();
}

// ---------------------------------------------------------------- rules
async function rules() {
  $("rules-state").textContent = "loading…";
  let found;
  try { found = await api(`/instances/${encodeURIComponent(state.instance)}/rules`); }
  catch (error) { $("rules-state").textContent = error.message; return; }
  $("rules-state").textContent = `${found.Rules.length} rule${found.Rules.length === 1 ? "" : "s"}`;
  $("rules-list").replaceChildren(...found.Rules.map((rule) => {
    const input = el("input", { id: `dry-${rule.RuleId}`, placeholder: "contact id", spellcheck: "false" });
    const report = el("div", { class: "report", "aria-live": "polite" });
    const form = el("form", { class: "toolbar" },
      el("label", { for: input.id, text: "Dry run on contact" }), input, el("button", { type: "submit", text: "Dry run" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      report.textContent = "running…";
      try {
        const result = await api(`/instances/${encodeURIComponent(state.instance)}/rules/test`, {
          method: "POST", headers: { "content-type": "application/json", "x-csrf-token": CSRF },
          body: JSON.stringify({ RuleId: rule.RuleId, ContactId: input.value.trim() }),
        });
        report.replaceChildren(dryRunReport(result));
      } catch (error) { report.textContent = error.message; }
    });
    return el("article", { class: "rule" }, el("h2", { text: rule.Name }),
      el("p", { class: "muted", text: `${rule.EventSource} · ${rule.PublishStatus} · actions: ${rule.Actions.join(", ")}` }),
      el("pre", { text: rule.Function }), form, report);
  }));
}

function describeMatch(m) {
  return el("li", {}, `turn ${m.turn} ${m.role}: `, el("mark", { class: "match", text: m.text }),
    m.score !== undefined && m.score !== null ? ` (similarity ${m.score}, closest “${m.phrase}”)` : "",
    m.sentiment ? ` sentiment ${m.sentiment}` : "", " ← ", el("code", { text: m.condition }));
}

function dryRunReport(r) {
  const where = r.AtContactEnd ? "at contact end" : `on turn ${r.Turn} of ${r.Turns}`;
  return el("div", {},
    el("p", { class: r.Matched ? "matched" : "" }, r.Matched ? `✔ MATCHED ${where}` : `✘ no match in ${r.Turns} turns`),
    el("ul", {}, r.Explanation.map(describeMatch)),
    el("h3", { text: "Conditions" }),
    el("ul", {}, r.Conditions.map((c) => el("li", {},
      c.Holds ? `✔ holds ${c.AtContactEnd ? "at contact end" : "from turn " + c.Turn}: ` : "✘ does not hold: ",
      el("code", { text: c.Condition }), el("ul", {}, c.Matches.map(describeMatch))))));
}

// ---------------------------------------------------------------- start
window.addEventListener("hashchange", () => route());
loadInstances().then(() => route(true)).catch((error) => { $("wall-state").textContent = error.message; });
