import { Api, itemsOf, cursorOf } from "./api.js";
import { ChatSocket } from "./socket.js";
import { renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "chat.token";
const INFLIGHT_KEY = "chat.inflight"; // {conversationId, generationId, messageId, seq, text}

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  status: "active",
  cursor: null,
  listDone: false,
  loadingList: false,
  conversation: null,     // the selected conversation
  historyCursor: null,    // oldest message id shown (for paging upward)
  historyDone: false,
  loadingHistory: false,
  live: new Map(),        // generationId -> {el, text, seq, messageId}
  activeGeneration: null, // generationId of the reply in progress in the open conversation
};

const api = new Api(() => state.token);
const socket = new ChatSocket(() => state.token);

// ---------- sign in ----------

function claims(token) {
  try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch { return {}; }
}

function showSignIn(message = "") {
  $("app").hidden = true; $("sign-in").hidden = false; $("sign-out").hidden = true; $("model-picker").hidden = true;
  $("who").textContent = ""; $("sign-in-error").textContent = message;
}

async function signedIn(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  const c = claims(token);
  $("who").textContent = `${c.sub ?? "?"} @ ${c.tenant_id ?? "?"}`;
  $("sign-in").hidden = true; $("app").hidden = false; $("sign-out").hidden = false; $("model-picker").hidden = false;
  socket.connect();
  await Promise.all([loadModels(), reloadConversations()]);
  const fromHash = /^#\/c\/([0-9a-f-]{36})$/.exec(location.hash);
  const inflight = readInflight();
  const id = fromHash?.[1] ?? inflight?.conversationId;
  if (id) await openConversation(id);
}

$("dev-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const result = await api.devToken(form.get("userId"), form.get("tenantId"));
    await signedIn(result.token ?? result.accessToken ?? result.access_token);
  } catch (err) { $("sign-in-error").textContent = `Could not mint a development token: ${err.message}`; }
});

$("token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  await signedIn(new FormData(e.target).get("token").trim());
});

$("sign-out").addEventListener("click", () => {
  socket.close(); sessionStorage.clear(); state.token = null; location.hash = ""; showSignIn();
});

// ---------- models ----------

async function loadModels() {
  const select = $("model");
  select.replaceChildren();
  try {
    const models = itemsOf(await api.models());
    for (const m of models) {
      const option = document.createElement("option");
      option.value = JSON.stringify({ model: m.model ?? m.name ?? m.id, provider: m.provider });
      option.textContent = `${m.model ?? m.name ?? m.id}${m.provider ? ` (${m.provider})` : ""}`;
      select.append(option);
    }
  } catch { /* models are optional: the server's default applies */ }
}

const chosenModel = () => { try { return JSON.parse($("model").value || "{}"); } catch { return {}; } };

// ---------- conversation list (infinite scroll over the API's cursors) ----------

async function reloadConversations() {
  state.cursor = null; state.listDone = false;
  $("conversations").replaceChildren();
  await loadMoreConversations();
}

async function loadMoreConversations() {
  if (state.loadingList || state.listDone) return;
  state.loadingList = true;
  try {
    const page = await api.listConversations({ status: state.status, cursor: state.cursor });
    for (const c of itemsOf(page)) $("conversations").append(conversationItem(c));
    state.cursor = cursorOf(page);
    state.listDone = !state.cursor;
  } catch (err) { showError(err); }
  finally { state.loadingList = false; }
}

function conversationItem(c) {
  const li = document.createElement("li");
  li.dataset.id = c.id;
  li.classList.toggle("selected", c.id === state.conversation?.id);
  const title = document.createElement("span");
  title.textContent = c.title || "Untitled";
  const meta = document.createElement("small");
  meta.textContent = `${c.messageCount ?? 0} messages · ${new Date(c.lastActivityAt ?? c.updatedAt ?? c.createdAt).toLocaleString()}`;
  li.append(title, meta);
  li.addEventListener("click", () => openConversation(c.id));
  return li;
}

/** Updates one conversation's entry (message count, activity) after a reply, without reloading the list. */
async function refreshListItem(id) {
  const li = $("conversations").querySelector(`[data-id="${id}"]`);
  if (!li) return;
  try { li.replaceWith(conversationItem(await api.getConversation(id))); } catch { /* the list is only a view */ }
}

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadMoreConversations();
}).observe($("conversations-sentinel"));

$("status-filter").addEventListener("change", (e) => { state.status = e.target.value; reloadConversations(); });

$("new-conversation").addEventListener("click", async () => {
  try {
    const c = await api.createConversation("New conversation");
    if (state.status !== "active") { state.status = "active"; $("status-filter").value = "active"; }
    await reloadConversations();
    await openConversation(c.id);
  } catch (err) { showError(err); }
});

// ---------- one conversation ----------

async function openConversation(id) {
  if (state.conversation) socket.unsubscribe(state.conversation.id);
  clearError();
  let conversation;
  try { conversation = await api.getConversation(id); }
  catch (err) { showError(err); return; }
  state.conversation = conversation;
  state.historyCursor = null; state.historyDone = false; state.live.clear(); state.activeGeneration = null;
  location.hash = `#/c/${id}`;
  for (const li of $("conversations").children) li.classList.toggle("selected", li.dataset.id === id);
  renderHeader();
  $("messages").replaceChildren($("history-sentinel"));
  await loadOlderMessages(true);

  const inflight = readInflight();
  const resume = inflight?.conversationId === id ? { generationId: inflight.generationId, after: inflight.seq } : null;
  if (resume) adoptInflight(inflight);
  await socket.subscribe(id, resume);
  setComposer();
}

function renderHeader() {
  const c = state.conversation;
  const deleted = Boolean(c.deletedAt);
  $("conversation-title").textContent = c.title || "Untitled";
  $("rename").disabled = deleted;
  $("archive").disabled = deleted;
  $("archive").textContent = c.status === "archived" ? "Unarchive" : "Archive";
  $("delete").disabled = deleted;
  $("restore").hidden = !deleted;
}

async function loadOlderMessages(scrollToEnd = false) {
  const c = state.conversation;
  if (!c || state.loadingHistory || state.historyDone) return;
  state.loadingHistory = true;
  try {
    const page = await api.listMessages(c.id, { before: state.historyCursor });
    const items = itemsOf(page);
    // Pages come newest-first or oldest-first depending on the API; render in conversation order.
    const ordered = [...items].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
    const container = $("messages");
    const anchor = $("history-sentinel").nextSibling;
    const previousHeight = container.scrollHeight;
    for (const m of ordered) container.insertBefore(messageElement(m), anchor);
    state.historyCursor = cursorOf(page);
    state.historyDone = !state.historyCursor;
    if (scrollToEnd) container.scrollTop = container.scrollHeight;
    else container.scrollTop += container.scrollHeight - previousHeight;
  } catch (err) { showError(err); }
  finally { state.loadingHistory = false; }
}

new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && state.historyCursor) loadOlderMessages();
}, { root: $("messages") }).observe($("history-sentinel"));

function messageElement(m) {
  const el = document.createElement("article");
  el.className = `message ${m.role} ${m.status ?? "completed"}`;
  el.dataset.id = m.id;
  const body = document.createElement("div");
  body.className = "body";
  body.innerHTML = renderMarkdown(m.content ?? ""); // renderMarkdown escapes all HTML first
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = [m.role, m.model, m.status && m.status !== "completed" ? m.status : null].filter(Boolean).join(" · ");
  el.append(body, meta);
  return el;
}

function assistantElement(messageId) {
  let el = messageId ? $("messages").querySelector(`[data-id="${messageId}"]`) : null;
  if (!el) {
    el = messageElement({ id: messageId ?? "", role: "assistant", content: "", status: "streaming" });
    $("messages").append(el);
  }
  el.classList.add("streaming");
  return el;
}

// ---------- streaming ----------

function readInflight() { try { return JSON.parse(sessionStorage.getItem(INFLIGHT_KEY)); } catch { return null; } }
function writeInflight(value) { if (value) sessionStorage.setItem(INFLIGHT_KEY, JSON.stringify(value)); else sessionStorage.removeItem(INFLIGHT_KEY); }

/** After a reload: show the text received before it, then continue from its seq. */
function adoptInflight(inflight) {
  const el = assistantElement(inflight.messageId);
  const live = { el, text: inflight.text, seq: inflight.seq, messageId: inflight.messageId, conversationId: inflight.conversationId };
  el.querySelector(".body").innerHTML = renderMarkdown(live.text);
  state.live.set(inflight.generationId, live);
  state.activeGeneration = inflight.generationId;
}

socket.addEventListener("frame", ({ detail: f }) => {
  const c = state.conversation;
  switch (f.type) {
    case "subscribed":
      if (f.recovered === false && readInflight()?.conversationId === f.conversationId) {
        // The replay window has passed: the REST history has the final message.
        writeInflight(null);
        if (c?.id === f.conversationId) openConversation(c.id);
      }
      break;
    case "generation.started": {
      if (f.conversationId !== c?.id || state.live.has(f.generationId)) break;
      const el = assistantElement(f.messageId);
      state.live.set(f.generationId, { el, text: "", seq: 0, messageId: f.messageId, conversationId: f.conversationId });
      state.activeGeneration = f.generationId;
      writeInflight({ conversationId: f.conversationId, generationId: f.generationId, messageId: f.messageId, seq: 0, text: "" });
      setComposer();
      break;
    }
    case "chunk": {
      const live = state.live.get(f.generationId);
      if (!live || f.seq <= live.seq) break;          // duplicate or unknown: ignore
      if (f.seq !== live.seq + 1) {                    // a gap: ask for the rest
        socket.sendSubscribe(live.conversationId, { generationId: f.generationId, after: live.seq });
        break;
      }
      live.seq = f.seq;
      live.text += f.delta;
      live.el.querySelector(".body").innerHTML = renderMarkdown(live.text);
      writeInflight({ conversationId: live.conversationId, generationId: f.generationId, messageId: live.messageId, seq: live.seq, text: live.text });
      socket.progress(live.conversationId, f.generationId, live.seq);
      const box = $("messages");
      if (box.scrollHeight - box.scrollTop - box.clientHeight < 120) box.scrollTop = box.scrollHeight;
      break;
    }
    case "generation.completed":
    case "generation.failed":
    case "generation.cancelled": {
      const live = state.live.get(f.generationId);
      if (live) {
        live.el.classList.remove("streaming");
        const status = f.code === "interrupted" ? "interrupted" : f.type.split(".")[1];
        if (status !== "completed") live.el.classList.add(status);
        live.el.querySelector(".meta").textContent = ["assistant", f.model, status !== "completed" ? status : null].filter(Boolean).join(" · ");
        state.live.delete(f.generationId);
      }
      if (f.type === "generation.failed") showError({ message: f.message || "The reply failed.", code: f.code });
      if (readInflight()?.generationId === f.generationId) writeInflight(null);
      if (state.activeGeneration === f.generationId) state.activeGeneration = null;
      setComposer();
      refreshListItem(f.conversationId);
      break;
    }
    case "stream.restored":
      if (f.recovered === false) {
        // Frames of these generations were lost with the message bus: the REST history has what was stored. Forget the
        // partial text and reload the conversation (it resubscribes; a reply still streaming continues live).
        for (const generationId of f.generationIds ?? []) {
          state.live.delete(generationId);
          if (readInflight()?.generationId === generationId) writeInflight(null);
          if (state.activeGeneration === generationId) state.activeGeneration = null;
        }
        if (c?.id === f.conversationId) openConversation(c.id);
      }
      break;
    case "error":
      if (f.id === undefined) showError(f);
      break;
  }
});

socket.addEventListener("status", ({ detail }) => {
  $("connection").textContent = detail.state === "open" ? "Connected"
    : detail.state === "interrupted" ? "Connected — live updates delayed, catching up…"
    : detail.state === "connecting" ? "Connecting…" : `Disconnected (${detail.code ?? ""}) — reconnecting`;
  if (detail.code === 4401) showSignIn("Your session expired. Sign in again.");
});
socket.addEventListener("error", ({ detail }) => showError(detail));

function setComposer() {
  const c = state.conversation;
  const usable = Boolean(c) && !c.deletedAt && c.status !== "archived";
  const busy = Boolean(state.activeGeneration);
  $("input").disabled = !usable;
  $("send").disabled = !usable || busy;
  $("stop").hidden = !busy;
}

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const content = $("input").value.trim();
  if (!content || !state.conversation) return;
  clearError();
  const own = messageElement({ id: "", role: "user", content, status: "completed" });
  $("messages").append(own);
  $("messages").scrollTop = $("messages").scrollHeight;
  $("input").value = "";
  $("send").disabled = true;
  try {
    const ack = await socket.send(state.conversation.id, content, chosenModel());
    own.dataset.id = ack.messageId ?? "";
  } catch (err) { own.classList.add("failed"); showError(err); setComposer(); }
});

$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});

$("stop").addEventListener("click", async () => {
  if (!state.activeGeneration) return;
  try { await socket.cancel(state.activeGeneration); } catch (err) { showError(err); }
});

// ---------- conversation actions ----------

$("rename").addEventListener("click", async () => {
  const c = state.conversation;
  const title = prompt("New title", c.title ?? "");
  if (title === null) return;
  try { state.conversation = await api.renameConversation(c.id, title.trim(), c.etag); renderHeader(); await reloadConversations(); }
  catch (err) { showError(err); }
});

$("archive").addEventListener("click", async () => {
  const c = state.conversation;
  try {
    state.conversation = (c.status === "archived" ? await api.unarchive(c.id) : await api.archive(c.id)) ?? await api.getConversation(c.id);
    renderHeader(); setComposer(); await reloadConversations();
  } catch (err) { showError(err); }
});

$("delete").addEventListener("click", async () => {
  const c = state.conversation;
  if (!confirm("Delete this conversation? It can be restored for a while.")) return;
  try {
    await api.remove(c.id);
    state.conversation = { ...c, deletedAt: new Date().toISOString() };
    renderHeader(); setComposer(); await reloadConversations();
  } catch (err) { showError(err); }
});

$("restore").addEventListener("click", async () => {
  const c = state.conversation;
  try {
    state.conversation = (await api.restore(c.id)) ?? await api.getConversation(c.id);
    renderHeader(); setComposer(); await reloadConversations();
  } catch (err) { showError(err); }
});

// ---------- errors ----------

function showError(err) {
  const code = err?.code ? ` (${err.code})` : "";
  $("error").textContent = `${err?.message ?? err}${code}`;
  if (err?.status === 401) showSignIn("Your session expired. Sign in again.");
}
function clearError() { $("error").textContent = ""; }

// ---------- start ----------

if (state.token && (claims(state.token).exp ?? 0) * 1000 > Date.now()) signedIn(state.token);
else showSignIn();
