// Accord console: the page talks to its own console server only (credentials stay there).
// Agent content is only ever inserted as text (textContent), never as HTML.
"use strict";

const TERMINAL = new Set(["TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED"]);
const INTERRUPTED = new Set(["TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"]);
const $ = (id) => document.getElementById(id);
const chat = { taskId: "", contextId: "", state: "", detailId: "", nextPage: "" };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function stateName(state) {
  return (state || "").replace("TASK_STATE_", "").replace(/_/g, " ").toLowerCase();
}

function showError(id, message) {
  const node = $(id);
  node.textContent = message || "";
  node.hidden = !message;
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("api/" + path, init);
  const value = await response.json();
  if (!response.ok) throw new Error(value.error || ("HTTP " + response.status));
  return value;
}

// POST and read the answer as SSE: onEvent(name, data) per event.
async function stream(path, body, onEvent) {
  const response = await fetch("api/" + path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const value = await response.json();
    throw new Error(value.error || ("HTTP " + response.status));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

// --- parts: text, structured data (formatted JSON), files (downloadable) -------------

function base64Blob(raw, type) {
  const bytes = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: type || "application/octet-stream" });
}

function renderPart(part) {
  if (part.text !== undefined) return el("p", { class: "text", text: part.text });
  if (part.data !== undefined) return el("pre", { class: "data", text: JSON.stringify(part.data, null, 2) });
  const name = part.filename || "file";
  if (part.raw !== undefined) {
    const link = el("a", { class: "file", download: name, text: "Download " + name });
    link.href = URL.createObjectURL(base64Blob(part.raw, part.mediaType));
    return el("p", {}, link);
  }
  if (part.url !== undefined && /^https?:/.test(part.url)) {
    return el("p", {}, el("a", { class: "file", href: part.url, rel: "noopener noreferrer", target: "_blank", text: "Open " + name }));
  }
  return el("pre", { text: JSON.stringify(part, null, 2) });
}

function renderParts(parts) {
  return (parts || []).map(renderPart);
}

// --- connect and the card ---------------------------------------------------------------

function showCard(connection) {
  const card = connection.card || {};
  $("card").hidden = false;
  $("card-name").textContent = card.name || "(no name)";
  $("card-description").textContent = card.description || "";
  const facts = $("card-facts");
  facts.replaceChildren();
  const add = (term, value) => { if (value) facts.append(el("dt", { text: term }), el("dd", { text: value })); };
  add("Card", connection.url);
  add("Version", card.version);
  add("Provider", card.provider && card.provider.organization);
  add("Interfaces", (card.supportedInterfaces || []).map((i) => `${i.protocolBinding} ${i.protocolVersion || "?"} at ${i.url}`).join("; "));
  add("Streaming", connection.streaming ? "yes" : "no");
  $("card-checks").replaceChildren(...connection.checks.map((c) => el("li", { class: c.level, text: c.message })));
  const sig = connection.signature;
  $("card-signature").replaceChildren(el("span", { class: "sig-" + sig.status, text: sig.status }), " — " + sig.detail);
  $("card-skills").replaceChildren(...(card.skills || []).map((skill) => {
    const item = el("li", {}, el("strong", { text: skill.name || skill.id }), " ", el("code", { text: skill.id }),
      el("div", { text: skill.description || "" }));
    for (const example of skill.examples || []) {
      item.append(el("button", { type: "button", class: "example", "data-skill": skill.id, text: "Use: " + example,
        onclick: () => useExample(example) }));
    }
    return item;
  }));
  $("card-json").textContent = JSON.stringify(card, null, 2);
}

function useExample(example) {
  let data = null;
  try { data = JSON.parse(example); } catch (_) { /* text */ }
  if (data && typeof data === "object") { $("data").value = JSON.stringify(data, null, 2); $("message").value = ""; }
  else { $("message").value = example; $("data").value = ""; }
  selectTab("tab-chat");
  $("message").focus();
}

function setConnected(connection) {
  const live = connection && connection.connected;
  $("disconnect").disabled = !connection;
  $("workspace").hidden = !live;
  $("connection-status").textContent = !connection ? "Not connected"
    : live ? `Connected to ${(connection.card && connection.card.name) || connection.agentUrl}`
    : `Card shown; not connected: ${connection.problem}`;
  if (connection) showCard(connection); else $("card").hidden = true;
}

async function connect(event) {
  event.preventDefault();
  showError("connect-error", "");
  $("connect").disabled = true;
  try {
    const url = $("agent-url").value;
    // An agent picked from the registry is connected to pinned to the card it recorded.
    const pin = picked.url === url ? picked.pin : "";
    const connection = await api("POST", "connect", {
      url, pin, apiKey: $("api-key").value, token: $("token").value, binding: $("binding").value,
    });
    $("api-key").value = ""; $("token").value = "";  // the server holds them now
    newConversation();
    setConnected(connection);
    if (connection.problem) showError("connect-error", connection.problem);
  } catch (error) {
    showError("connect-error", error.message);
  } finally {
    $("connect").disabled = false;
  }
}

// --- registry -----------------------------------------------------------------------

const picked = { url: "", pin: "" };

async function searchRegistry(event) {
  event.preventDefault();
  showError("registry-error", "");
  const query = new URLSearchParams({ q: $("registry-query").value, skill: $("registry-skill").value });
  const list = $("registry-results");
  try {
    const found = await api("GET", "registry?" + query.toString());
    list.replaceChildren(...found.agents.map((agent) => el("li", { class: "found" },
      el("strong", { text: agent.name }), " ",
      el("span", { class: "hint", text: `${agent.version} · ${agent.status}${agent.drift ? " · changed without a version bump" : ""}` }),
      el("p", { text: agent.description }),
      el("p", { class: "hint", text: `${agent.url} · skills: ${agent.skills.join(", ")}` }),
      el("button", { type: "button", text: `Use ${agent.name}`, onclick: () => pick(agent) }))));
    if (!found.agents.length) list.replaceChildren(el("li", { text: "No agent matches." }));
  } catch (error) {
    showError("registry-error", error.message);
  }
}

function pick(agent) {
  picked.url = agent.url;
  picked.pin = agent.pin;
  $("agent-url").value = agent.url;
  $("agent-url").focus();
}

async function disconnect() {
  await api("POST", "disconnect", {});
  setConnected(null);
}

// --- chat ---------------------------------------------------------------------------

function logItem(kind, who, ...content) {
  const item = el("li", { class: kind }, who ? el("span", { class: "who", text: who }) : null, ...content);
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function setTask(taskId, contextId, state) {
  if (taskId !== undefined) chat.taskId = taskId;
  if (contextId) chat.contextId = contextId;
  if (state) chat.state = state;
  $("task-id").textContent = chat.taskId || "none";
  $("context-id").textContent = chat.contextId || "new";
  $("cancel").disabled = !chat.taskId || TERMINAL.has(chat.state);
}

function statusText(status) {
  const parts = (status.message && status.message.parts) || [];
  return parts.filter((p) => p.text !== undefined).map((p) => p.text).join(" ");
}

function onA2A(event) {
  if (event.task) {
    const task = event.task;
    setTask(task.id, task.contextId, task.status.state);
    $("task-status").textContent = `Task ${stateName(task.status.state)}`;
    for (const artifact of task.artifacts || []) logItem("artifact", "Artifact " + (artifact.name || artifact.artifactId), ...renderParts(artifact.parts));
  } else if (event.statusUpdate) {
    const update = event.statusUpdate;
    const state = update.status.state;
    setTask(update.taskId, update.contextId, state);
    const text = statusText(update.status);
    $("task-status").textContent = `Task ${stateName(state)}${text ? ": " + text : ""}`;
    const data = ((update.status.message && update.status.message.parts) || []).filter((p) => p.data !== undefined);
    logItem(state === "TASK_STATE_WORKING" ? "progress" : "agent", state === "TASK_STATE_WORKING" ? "" : "Agent",
      el("span", { class: "state", text: `[${stateName(state)}] ` }), text, ...renderParts(data));
  } else if (event.artifactUpdate) {
    const artifact = event.artifactUpdate.artifact;
    logItem("artifact", "Artifact " + (artifact.name || artifact.artifactId), ...renderParts(artifact.parts));
  } else if (event.message) {
    logItem("agent", "Agent", ...renderParts(event.message.parts));
    setTask(event.message.taskId || "", event.message.contextId, "");
  }
}

async function sendMessage(event) {
  event.preventDefault();
  showError("chat-error", "");
  const text = $("message").value;
  let data;
  if ($("data").value.trim()) {
    try { data = JSON.parse($("data").value); } catch (_) { showError("chat-error", "Data is not valid JSON"); return; }
  }
  const body = { text, data, contextId: chat.contextId, taskId: INTERRUPTED.has(chat.state) ? chat.taskId : "" };
  logItem("user", "You", text ? el("span", { text }) : null, data !== undefined ? el("pre", { class: "data", text: JSON.stringify(data, null, 2) }) : null);
  $("message").value = ""; $("data").value = "";
  $("send").disabled = true;
  $("task-status").textContent = "Sending…";
  try {
    await stream("send", body, (name, value) => {
      if (name === "a2a") onA2A(value);
      else if (name === "error") showError("chat-error", value.error);
      else if (name === "end" && value.reason !== "done") $("task-status").textContent += ` (${value.reason})`;
    });
    if (INTERRUPTED.has(chat.state)) $("message").focus();
    if (TERMINAL.has(chat.state)) { chat.taskId = ""; setTask(); }
  } catch (error) {
    showError("chat-error", error.message);
  } finally {
    $("send").disabled = false;
  }
}

async function cancelTask(taskId) {
  const task = await api("POST", `tasks/${encodeURIComponent(taskId)}/cancel`, {});
  return task;
}

function newConversation() {
  chat.taskId = ""; chat.contextId = ""; chat.state = "";
  $("chat-log").replaceChildren();
  $("task-status").textContent = "No task yet";
  setTask("");
}

// --- tasks --------------------------------------------------------------------------

async function listTasks(event, pageToken) {
  if (event) event.preventDefault();
  showError("tasks-error", "");
  const query = new URLSearchParams({
    state: $("filter-state").value, contextId: $("filter-context").value,
    pageSize: $("page-size").value, pageToken: pageToken || "",
  });
  try {
    const page = await api("GET", "tasks?" + query);
    const rows = (page.tasks || []).map((task) => el("tr", {},
      el("td", {}, el("button", { type: "button", class: "link-button", text: task.id, onclick: () => openTask(task.id) })),
      el("td", { text: stateName(task.status.state) }),
      el("td", { text: task.status.timestamp || "" }),
      el("td", {}, el("code", { text: task.contextId || "" }))));
    const body = $("tasks-table").tBodies[0];
    if (pageToken) body.append(...rows); else body.replaceChildren(...rows);
    $("tasks-table").hidden = false;
    chat.nextPage = page.nextPageToken || "";
    $("more-tasks").hidden = !chat.nextPage;
  } catch (error) {
    showError("tasks-error", error.message);
  }
}

function auditTable(entries, caption) {
  if (!entries.length) return el("p", { text: "No records." });
  const head = el("tr", {}, ...["Time", "Kind", "Operation", "Outcome", "State", "Binding", "Hash"].map((h) => el("th", { scope: "col", text: h })));
  const rows = entries.map((e) => el("tr", {}, el("td", { text: e.time }), el("td", { text: e.kind }), el("td", { text: e.operation }),
    el("td", { text: e.outcome }), el("td", { text: stateName(e.state) }), el("td", { text: e.binding }),
    el("td", {}, el("code", { text: (e.hash || "").slice(0, 12) }))));
  return el("table", { class: "audit" }, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, ...rows));
}

async function openTask(taskId) {
  showError("tasks-error", "");
  try {
    const detail = await api("GET", "tasks/" + encodeURIComponent(taskId));
    chat.detailId = taskId;
    const task = detail.task;
    $("task-detail").hidden = false;
    $("task-detail-heading").textContent = "Task " + task.id;
    $("task-detail-state").textContent = `State: ${stateName(task.status.state)} · context ${task.contextId}`;
    $("detail-cancel").disabled = TERMINAL.has(task.status.state);
    $("task-timeline").replaceChildren(...detail.timeline.map((entry) => el("li", {},
      el("strong", { text: entry.kind }), entry.state ? ` [${stateName(entry.state)}]` : "", entry.text ? " " + entry.text : "")));
    const push = detail.push;
    $("task-push").replaceChildren(push.error ? el("p", { text: push.error })
      : push.configs.length ? el("ul", {}, ...push.configs.map((c) => el("li", {}, el("code", { text: c.id }), " → " + c.url)))
      : el("p", { text: "No push notification configs." }));
    const audit = [auditTable(detail.audit, "This console's calls")];
    if (detail.agentAudit) audit.push(auditTable(detail.agentAudit, "The agent's own audit trail"));
    $("task-audit").replaceChildren(...audit);
    $("task-detail-heading").focus();
  } catch (error) {
    showError("tasks-error", error.message);
  }
}

async function followTask() {
  if (!chat.detailId) return;
  selectTab("tab-chat");
  $("task-status").textContent = "Following " + chat.detailId;
  try {
    await stream(`tasks/${encodeURIComponent(chat.detailId)}/subscribe`, {}, (name, value) => {
      if (name === "a2a") onA2A(value); else if (name === "error") showError("chat-error", value.error);
    });
  } catch (error) {
    showError("chat-error", error.message);
  }
}

// --- audit and raw ------------------------------------------------------------------

async function refreshAudit() {
  const result = await api("GET", "audit");
  $("audit-list").replaceChildren(auditTable(result.entries, "Calls made by this console"));
}

async function refreshRaw() {
  const result = await api("GET", "raw");
  $("raw-list").replaceChildren(...result.exchanges.map((x) => {
    const headers = (list) => list.map(([name, value]) => `${name}: ${value}`).join("\n");
    let body = x.responseBody;
    try { body = JSON.stringify(JSON.parse(body), null, 2); } catch (_) { /* SSE or text: as is */ }
    let request = x.requestBody;
    try { request = JSON.stringify(JSON.parse(request), null, 2); } catch (_) { /* as is */ }
    return el("li", {}, el("details", {},
      el("summary", { text: `${x.method} ${x.url} → ${x.status || x.error}` }),
      el("h4", { text: "Request" }), el("pre", { text: headers(x.requestHeaders) + "\n\n" + request }),
      el("h4", { text: "Response" }), el("pre", { text: headers(x.responseHeaders) + "\n\n" + body })));
  }));
}

// --- tabs (arrow keys move between them, as the ARIA tabs pattern says) --------------

function selectTab(id) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.id === id;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (id === "tab-audit") refreshAudit().catch(() => {});
  if (id === "tab-raw") refreshRaw().catch(() => {});
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const index = tabs.indexOf(event.target);
  const moves = { ArrowRight: 1, ArrowLeft: -1 };
  if (index < 0 || !(event.key in moves)) return;
  const next = tabs[(index + moves[event.key] + tabs.length) % tabs.length];
  selectTab(next.id);
  next.focus();
  event.preventDefault();
}

async function start() {
  $("connect-form").addEventListener("submit", connect);
  $("disconnect").addEventListener("click", () => disconnect().catch((e) => showError("connect-error", e.message)));
  $("chat-form").addEventListener("submit", sendMessage);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("chat-form").requestSubmit();
  });
  $("cancel").addEventListener("click", () => cancelTask(chat.taskId).catch((e) => showError("chat-error", e.message)));
  $("new-conversation").addEventListener("click", newConversation);
  $("tasks-form").addEventListener("submit", (event) => listTasks(event, ""));
  $("more-tasks").addEventListener("click", () => listTasks(null, chat.nextPage));
  $("detail-cancel").addEventListener("click", () => cancelTask(chat.detailId).then(() => openTask(chat.detailId)).catch((e) => showError("tasks-error", e.message)));
  $("detail-follow").addEventListener("click", followTask);
  $("refresh-audit").addEventListener("click", refreshAudit);
  $("refresh-raw").addEventListener("click", refreshRaw);
  $("task-detail-heading").tabIndex = -1;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.id));
    tab.addEventListener("keydown", onTabKey);
  }
  $("registry-form").addEventListener("submit", searchRegistry);
  const state = await api("GET", "state");
  if (state.registry) { $("registry").hidden = false; $("registry-url").textContent = state.registry; }
  if (state.agentUrl) $("agent-url").value = state.agentUrl;
  if (state.connection) { $("agent-url").value = state.connection.agentUrl; setConnected(state.connection); }
}

document.addEventListener("DOMContentLoaded", () => { start().catch((e) => showError("connect-error", e.message)); });
