// The operator console. It reads and commands through the operator API only, with the function
// key the operator typed in (kept in this tab's sessionStorage). Every value from the API is
// inserted with textContent: transcripts and caller headers are caller-controlled text.
"use strict";

(() => {
  const KEY_NAME = "switchboard.functionKey";
  const API = location.pathname.replace(/\/console\/?$/, "");
  const LIVE_POLL_MS = 2000;
  const CALL_POLL_MS = 1000;
  const ENDED_POLL_MS = 5000;
  const PAGE_SIZE = 20;
  const OTHER = "__other__";
  const DEFAULT = "__default__";
  const LIVE_STATUSES = new Set(["Pending", "Running", "ContinuedAsNew"]);

  const $ = (id) => document.getElementById(id);
  const state = {
    live: [],
    selected: null, // {callId, live, view, turns}
    records: new Map(), // ended call id -> full record (or null when it has none)
    agent: null,
    filters: {},
    next: null,
    pages: 1,
    busy: false,
    loadingLive: false,
    timers: [],
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  function cell(label, text, className) {
    const node = el("td", text, className);
    node.dataset.label = label;
    return node;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function mask(number) {
    if (!number) return "unknown";
    const text = String(number);
    if (text.length <= 4) return text;
    return text.slice(0, 2) + "*".repeat(text.length - 4) + text.slice(-2);
  }

  function when(iso) {
    if (!iso) return "—";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return String(iso);
    return moment.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "—";
    const total = Math.max(0, Math.round(Number(seconds)));
    const minutes = Math.floor(total / 60);
    return `${minutes}:${String(total % 60).padStart(2, "0")}`;
  }

  function since(iso) {
    const start = new Date(iso).getTime();
    return Number.isNaN(start) ? null : (Date.now() - start) / 1000;
  }

  function cost(value) {
    return value === null || value === undefined ? "—" : `$${Number(value).toFixed(4)}`;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function fill(dl, pairs) {
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      if (value === undefined) continue;
      dl.append(el("dt", term), el("dd", value === null || value === "" ? "—" : value));
    }
  }

  // Live regions announce changes: only write what changed, so a poll repeats nothing.
  function say(node, text, kind) {
    if (node.textContent !== text) node.textContent = text;
    if (kind) node.dataset.kind = kind;
    else delete node.dataset.kind;
  }

  // ---- the API -----------------------------------------------------------------------------

  async function api(path, options = {}) {
    const headers = { "x-functions-key": sessionStorage.getItem(KEY_NAME) || "" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method: options.method || "GET",
        body: options.body,
        headers,
        cache: "no-store",
        credentials: "same-origin",
        redirect: "error",
      });
    } catch {
      throw new ApiError(0, "the app could not be reached");
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error : response.statusText;
      if (response.status === 401 || response.status === 403) signOut("The function key was refused.");
      throw new ApiError(response.status, message || "request failed");
    }
    return body;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") search.set(name, value);
    }
    return search.toString();
  }

  const callPath = (callId) => `/calls/${encodeURIComponent(callId)}`;

  // ---- sign in / out ---------------------------------------------------------------------

  function signIn(event) {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) {
      say($("key-error"), "Enter the function key.");
      $("key-input").focus();
      return;
    }
    sessionStorage.setItem(KEY_NAME, key);
    $("key-input").value = "";
    start();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_NAME);
    for (const timer of state.timers) clearInterval(timer);
    state.timers = [];
    show($("console"), false);
    show($("forget-key"), false);
    show($("key-panel"), true);
    say($("key-error"), message || "");
    say($("connection"), "");
    $("key-input").focus();
  }

  function start() {
    show($("key-panel"), false);
    show($("console"), true);
    show($("forget-key"), true);
    say($("key-error"), "");
    loadAgent();
    refreshLive();
    refreshEnded();
    state.timers = [
      setInterval(refreshLive, LIVE_POLL_MS),
      setInterval(refreshSelected, CALL_POLL_MS),
      setInterval(() => {
        if (state.pages === 1) refreshEnded();
      }, ENDED_POLL_MS),
    ];
  }

  // ---- live calls --------------------------------------------------------------------------

  async function refreshLive() {
    if (state.loadingLive) return; // the previous poll is still out (a slow network)
    state.loadingLive = true;
    try {
      const page = await api(`/calls?${query({ status: "live", limit: 100 })}`);
      const views = await Promise.all(
        page.calls.map((call) => api(callPath(call.call_id)).catch(() => null)),
      );
      state.live = page.calls
        .map((call, i) => ({ call, view: views[i] }))
        .filter(({ view }) => view === null || LIVE_STATUSES.has(view.runtime_status));
      renderLive();
      say($("connection"), `Updated ${when(new Date().toISOString()).slice(11)}`);
    } catch (error) {
      say($("live-status"), `Live calls could not be loaded: ${error.message}`, "error");
    } finally {
      state.loadingLive = false;
    }
  }

  function renderLive() {
    const rows = state.live.map(({ call, view }) => {
      const tr = el("tr");
      tr.dataset.callId = call.call_id;
      if (state.selected && state.selected.callId === call.call_id) tr.setAttribute("aria-current", "true");
      const phase = view ? view.phase || view.runtime_status : "unknown";
      tr.append(
        cell("Caller", mask(call.caller), "caller"),
        cell("Phase", phase, "phase"),
        cell("Duration", duration(since(call.accepted_at || call.received_at)), "duration"),
      );
      const open = el("button", "Open", "secondary");
      open.type = "button";
      open.setAttribute("aria-label", `Open live call from ${mask(call.caller)}`);
      open.addEventListener("click", () => select(call.call_id, true));
      const action = el("td", null, "action");
      action.append(open);
      tr.append(action);
      return tr;
    });
    $("live-rows").replaceChildren(...rows);
    show($("live-table"), rows.length > 0);
    $("live-count").textContent = `(${rows.length})`;
    say($("live-status"), rows.length ? "" : "No live calls.");
  }

  // ---- finished calls ----------------------------------------------------------------------

  function readFilters(event) {
    if (event) event.preventDefault();
    const day = $("filter-day").value;
    state.filters = {
      since: day ? `${day}T00:00:00Z` : "",
      until: day ? `${day}T23:59:59.999999Z` : "",
      end_reason: $("filter-reason").value,
      caller: $("filter-caller").value.trim(),
    };
    state.pages = 1;
    refreshEnded();
  }

  function clearFilters() {
    $("filters").reset();
    readFilters();
  }

  async function refreshEnded(older = false) {
    const params = { status: "ended", limit: PAGE_SIZE, ...state.filters };
    if (older) params.cursor = state.next;
    try {
      const page = await api(`/calls?${query(params)}`);
      state.next = page.next;
      show($("more"), Boolean(page.next));
      const rows = page.calls.map(endedRow);
      if (older) $("ended-rows").append(...rows);
      else $("ended-rows").replaceChildren(...rows);
      const shown = $("ended-rows").children.length;
      say($("ended-status"), shown ? `${shown} finished call${shown === 1 ? "" : "s"} shown.` : "No finished calls match.");
      page.calls.forEach(loadSummary);
    } catch (error) {
      say($("ended-status"), `Finished calls could not be loaded: ${error.message}`, "error");
    }
  }

  function endedRow(call) {
    const tr = el("tr");
    tr.dataset.callId = call.call_id;
    const summary = cell("Summary", "…", "summary");
    const received = cell("Received", null, "received");
    const [day, time] = when(call.received_at).slice(0, 16).split(" ");
    received.append(el("span", day), el("span", time));
    const known = state.records.get(call.call_id);
    if (known !== undefined) summary.textContent = summaryOf(known);
    tr.append(
      received,
      cell("Caller", mask(call.caller), "caller"),
      cell("Duration", duration(call.duration_seconds), "duration"),
      cell("End reason", call.end_reason || "—", "reason"),
      cell("Transfer", call.transfer_status || "—", "transfer"),
      cell("Cost", cost(call.estimated_cost_usd), "cost"),
      summary,
    );
    const open = el("button", "View", "secondary");
    open.type = "button";
    open.setAttribute("aria-label", `View call from ${mask(call.caller)} at ${when(call.received_at)}`);
    open.addEventListener("click", () => select(call.call_id, false));
    const action = el("td", null, "action");
    action.append(open);
    tr.append(action);
    return tr;
  }

  function summaryOf(record) {
    const summary = record && record.analysis && record.analysis.summary;
    if (!summary) return "—";
    const text = String(summary);
    return text.length > 140 ? `${text.slice(0, 139)}…` : text;
  }

  async function loadSummary(call) {
    if (state.records.has(call.call_id)) return;
    try {
      const view = await api(callPath(call.call_id));
      state.records.set(call.call_id, view.record || null);
    } catch {
      return;
    }
    for (const tr of $("ended-rows").children) {
      if (tr.dataset.callId === call.call_id) {
        tr.querySelector(".summary").textContent = summaryOf(state.records.get(call.call_id));
      }
    }
  }

  // ---- one call ----------------------------------------------------------------------------

  function select(callId, live) {
    state.selected = { callId, live, view: null, turns: 0 };
    show($("call-panel"), true);
    $("call-title").textContent = live ? "Live call" : "Finished call";
    say($("call-state"), "Loading…");
    say($("command-result"), "");
    $("call-facts").replaceChildren();
    $("transcript").replaceChildren();
    show($("call-controls"), false);
    show($("analysis"), false);
    show($("transfers-section"), false);
    $("transcript-note").textContent = "";
    renderLive();
    refreshSelected().then(() => $("call-title").focus());
  }

  function closeCall() {
    state.selected = null;
    show($("call-panel"), false);
    renderLive();
  }

  async function refreshSelected() {
    const selected = state.selected;
    if (!selected || (selected.view && !selected.live)) return;
    let view;
    try {
      view = await api(callPath(selected.callId));
    } catch (error) {
      if (state.selected === selected) say($("call-state"), `The call could not be loaded: ${error.message}`, "error");
      return;
    }
    if (state.selected !== selected) return;
    selected.view = view;
    selected.live = LIVE_STATUSES.has(view.runtime_status);
    if (!selected.live) state.records.set(selected.callId, view.record || null);
    renderCall(selected);
  }

  function renderCall(selected) {
    const view = selected.view;
    const record = view.record || {};
    const listed = state.live.find(({ call }) => call.call_id === selected.callId);
    const caller = record.caller || (listed && listed.call.caller);
    $("call-title").textContent = selected.live ? "Live call" : "Finished call";
    say($("call-state"), selected.live ? `Phase: ${view.phase || view.runtime_status}` : `Ended: ${record.end_reason || view.phase || view.runtime_status}`);
    $("call-state").dataset.phase = view.phase || "";
    const started = record.accepted_at || record.received_at || (listed && listed.call.received_at) || view.created_time;
    fill($("call-facts"), [
      ["Caller", mask(caller)],
      ["Received", when(record.received_at || (listed && listed.call.received_at) || view.created_time)],
      ["Duration", duration(record.ended_at ? (new Date(record.ended_at) - new Date(started)) / 1000 : since(started))],
      ["End reason", selected.live ? undefined : record.end_reason],
      ["Decision", record.decision ? `${record.decision} (${record.decision_reason || "—"})` : undefined],
      ["Transfer", record.transfer_status ? `${record.transfer_status} → ${record.transfer_target || "—"}` : undefined],
      ["Cost", selected.live ? undefined : cost(record.estimated_cost_usd)],
      ["Tokens", record.usage ? `${record.usage.input_tokens || 0} in, ${record.usage.output_tokens || 0} out` : undefined],
      ["Errors", record.errors && record.errors.length ? record.errors.join("; ") : undefined],
    ]);
    show($("call-controls"), selected.live);
    renderAnalysis(record.analysis);
    renderTransfers(record.transfers || []);
    renderTranscript(selected, view.live_turns || view.turns || record.turns || []);
  }

  function renderAnalysis(analysis) {
    show($("analysis"), Boolean(analysis));
    if (!analysis) return;
    $("analysis-summary").textContent = analysis.summary || "No summary.";
    const followUp = analysis.follow_up || {};
    fill($("analysis-facts"), [
      ["Success", analysis.success === undefined ? undefined : `${analysis.success ? "yes" : "no"}${analysis.success_reason ? ` — ${analysis.success_reason}` : ""}`],
      ["Follow-up", followUp.needed === undefined ? undefined : `${followUp.needed ? "needed" : "not needed"}${followUp.reason ? ` — ${followUp.reason}` : ""}`],
      ["Missing", analysis.missing && analysis.missing.length ? analysis.missing.join(", ") : undefined],
      ["Invalid", invalidText(analysis.invalid)],
      ["Model", analysis.model || undefined],
    ]);
    const data = analysis.data && typeof analysis.data === "object" ? analysis.data : {};
    fill(
      $("analysis-data"),
      Object.entries(data).map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]),
    );
  }

  // ``invalid`` names each extracted value that failed its check, with why: {name: reason}.
  function invalidText(invalid) {
    if (!invalid || typeof invalid !== "object") return undefined;
    const entries = Array.isArray(invalid) ? invalid.map((name) => [name, ""]) : Object.entries(invalid);
    if (!entries.length) return undefined;
    return entries.map(([name, why]) => (why ? `${name}: ${why}` : String(name))).join("; ");
  }

  function renderTransfers(transfers) {
    show($("transfers-section"), transfers.length > 0);
    $("transfers").replaceChildren(...transfers.map((t) => el("li", `${t.target} — ${t.status}`)));
  }

  function renderTranscript(selected, turns) {
    const list = $("transcript");
    if (turns.length < list.children.length) list.replaceChildren();
    for (const turn of turns.slice(list.children.length)) {
      const item = el("li", null, `turn turn-${turn.speaker === "caller" ? "caller" : "agent"}`);
      const who = el("span", turn.speaker === "caller" ? "Caller" : "Agent", "who");
      const at = el("span", turn.offset_seconds === undefined ? "" : duration(turn.offset_seconds), "at");
      item.append(who, at, el("p", turn.text));
      list.append(item);
    }
    selected.turns = turns.length;
    let note = "";
    if (selected.live && !turns.length) {
      note = "No transcript yet: it appears here as the call goes on (written every few seconds).";
    } else if (!turns.length) {
      note = "This call has no transcript.";
    }
    $("transcript-note").textContent = note;
  }

  // ---- commands ----------------------------------------------------------------------------

  async function loadAgent() {
    try {
      state.agent = await api("/agent");
    } catch (error) {
      state.agent = { departments: [], default_target: null };
      say($("command-result"), `Departments could not be loaded (${error.message}); transfer to a number instead.`, "error");
    }
    const options = [];
    for (const department of state.agent.departments) {
      if (!department.target) continue;
      const option = el("option", `${department.name} (${department.about || department.target})`);
      option.value = department.name;
      options.push(option);
    }
    if (state.agent.default_target) {
      const option = el("option", `Default target (${state.agent.default_target})`);
      option.value = DEFAULT;
      options.push(option);
    }
    const other = el("option", "Another number or SIP URI…");
    other.value = OTHER;
    options.push(other);
    $("transfer-target").replaceChildren(...options);
    toggleOther();
  }

  function toggleOther() {
    show($("transfer-other-field"), $("transfer-target").value === OTHER);
  }

  function transferChoice() {
    const choice = $("transfer-target").value;
    if (choice === OTHER) {
      const target = $("transfer-other").value.trim();
      return { label: target || "(empty)", body: JSON.stringify({ target_uri: target }) };
    }
    if (choice === DEFAULT) return { label: `the default target (${state.agent.default_target})`, body: "" };
    const department = state.agent.departments.find((d) => d.name === choice);
    return { label: `${department.name} (${department.target})`, body: JSON.stringify({ target_uri: department.target }) };
  }

  function confirmAction(title, text, okLabel) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    return new Promise((resolve) => {
      const done = (answer) => {
        $("confirm-ok").onclick = null;
        $("confirm-cancel").onclick = null;
        dialog.onclose = null;
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      $("confirm-ok").onclick = () => done(true);
      $("confirm-cancel").onclick = () => done(false);
      dialog.onclose = () => done(false);
      dialog.showModal();
    });
  }

  async function transfer(event) {
    event.preventDefault();
    const selected = state.selected;
    if (!selected || !selected.live || state.busy) return;
    const choice = transferChoice();
    const sure = await confirmAction("Transfer this call?", `The caller ${mask(callerOf(selected))} will be transferred to ${choice.label}.`, "Transfer");
    if (!sure) {
      say($("command-result"), "Transfer cancelled: nothing was sent.");
      return;
    }
    await command(selected, "transfer", choice.body, `Transfer to ${choice.label}`);
  }

  async function hangUp() {
    const selected = state.selected;
    if (!selected || !selected.live || state.busy) return;
    const sure = await confirmAction("Hang up this call?", `The call with ${mask(callerOf(selected))} will be ended now.`, "Hang up");
    if (!sure) {
      say($("command-result"), "Hang-up cancelled: nothing was sent.");
      return;
    }
    await command(selected, "hangup", "", "Hang-up");
  }

  function callerOf(selected) {
    const listed = state.live.find(({ call }) => call.call_id === selected.callId);
    return listed ? listed.call.caller : null;
  }

  async function command(selected, action, body, label) {
    state.busy = true;
    for (const id of ["transfer", "hangup"]) $(id).disabled = true;
    say($("command-result"), `${label}: sending…`);
    try {
      const answer = await api(`${callPath(selected.callId)}/${action}`, { method: "POST", body });
      const id = answer && answer.command_id ? ` (command ${answer.command_id})` : "";
      say($("command-result"), `${label} requested${id}. The call's phase shows what happens next.`, "ok");
    } catch (error) {
      const why = {
        400: "refused, the request is not valid",
        404: "refused, the call is unknown",
        409: "refused in this phase of the call",
        429: "refused, too many commands: wait and try again",
      }[error.status] || (error.status ? `failed (HTTP ${error.status})` : "failed");
      say($("command-result"), `${label} ${why}: ${error.message}`, "error");
    } finally {
      state.busy = false;
      for (const id of ["transfer", "hangup"]) $(id).disabled = false;
      refreshSelected();
      refreshLive();
    }
  }

  // ---- wiring ------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", signIn);
    $("forget-key").addEventListener("click", () => signOut("The key was forgotten."));
    $("filters").addEventListener("submit", readFilters);
    $("filter-clear").addEventListener("click", clearFilters);
    $("more").addEventListener("click", () => {
      state.pages += 1;
      refreshEnded(true);
    });
    $("call-close").addEventListener("click", closeCall);
    $("transfer-form").addEventListener("submit", transfer);
    $("transfer-target").addEventListener("change", toggleOther);
    $("hangup").addEventListener("click", hangUp);
    if (sessionStorage.getItem(KEY_NAME)) start();
    else $("key-input").focus();
  });
})();
