// The web client's entry: sign-in, then the parts wired together (like a service's Program.cs).
import { Api } from "./api.js";
import { ChatSocket } from "./socket.js";
import { $, showError } from "./ui.js";
import { ModelPicker } from "./models.js";
import { ConversationList } from "./conversation-list.js";
import { ConversationView } from "./conversation-view.js";
import { Replies } from "./replies.js";
import { Composer } from "./composer.js";
import { readInflight } from "./inflight.js";

const TOKEN_KEY = "chat.token";
let token = sessionStorage.getItem(TOKEN_KEY);

const api = new Api(() => token);
const socket = new ChatSocket(() => token);
const models = new ModelPicker(api);
const list = new ConversationList({ api, onOpen: (id) => view.open(id) });
const replies = new Replies({
  socket,
  onChange: () => composer.update(),
  onSettled: (conversationId) => list.refresh(conversationId),
  onLost: (conversationId) => view.reopenIf(conversationId),
});
const view = new ConversationView({ api, socket, list, replies, onChange: () => composer.update() });
const composer = new Composer({ socket, view, replies, models });

function claims(jwt) {
  try { return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch { return {}; }
}

function showSignIn(message = "") {
  $("app").hidden = true; $("sign-in").hidden = false; $("sign-out").hidden = true; $("model-picker").hidden = true;
  $("who").textContent = ""; $("sign-in-error").textContent = message;
}

async function signedIn(newToken) {
  token = newToken;
  sessionStorage.setItem(TOKEN_KEY, token);
  const c = claims(token);
  $("who").textContent = `${c.sub ?? "?"} @ ${c.tenant_id ?? "?"}`;
  $("sign-in").hidden = true; $("app").hidden = false; $("sign-out").hidden = false; $("model-picker").hidden = false;
  socket.connect();
  await Promise.all([models.load(), list.reload()]);
  const id = /^#\/c\/([0-9a-f-]{36})$/.exec(location.hash)?.[1] ?? readInflight()?.conversationId;
  if (id) await view.open(id);
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
  socket.close(); sessionStorage.clear(); token = null; location.hash = ""; showSignIn();
});

const expired = () => showSignIn("Your session expired. Sign in again.");
document.addEventListener("chat:session-expired", expired);

socket.addEventListener("status", ({ detail }) => {
  $("connection").textContent = detail.state === "open" ? "Connected"
    : detail.state === "interrupted" ? "Connected — live updates delayed, catching up…"
    : detail.state === "connecting" ? "Connecting…" : `Disconnected (${detail.code ?? ""}) — reconnecting`;
  if (detail.code === 4401) expired();
});
socket.addEventListener("error", ({ detail }) => showError(detail));

if (token && (claims(token).exp ?? 0) * 1000 > Date.now()) signedIn(token);
else showSignIn();
