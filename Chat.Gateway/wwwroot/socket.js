// The chat.v1 WebSocket protocol (docs/PROTOCOL.md): one connection, subscriptions per conversation,
// reconnect with backoff, resubscribe with `after` so a reconnect never loses or repeats a chunk.

export class ChatSocket extends EventTarget {
  constructor(getToken) {
    super();
    this.getToken = getToken;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();      // request id -> {resolve, reject}
    this.subscriptions = new Map(); // conversationId -> {generationId, after}
    this.backoff = 500;
    this.closedByUser = false;
  }

  connect() {
    this.closedByUser = false;
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", this.getToken());
    const ws = new WebSocket(url, "chat.v1");
    this.ws = ws;
    this.emit("status", { state: "connecting" });
    ws.onopen = () => {
      this.backoff = 500;
      this.emit("status", { state: "open" });
      for (const [conversationId, sub] of this.subscriptions) this.sendSubscribe(conversationId, sub);
    };
    ws.onmessage = (event) => this.onFrame(JSON.parse(event.data));
    ws.onclose = (event) => {
      for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
      this.pending.clear();
      this.emit("status", { state: "closed", code: event.code, reason: event.reason });
      if (this.closedByUser || event.code === 4401 || event.code === 4403) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  close() { this.closedByUser = true; this.ws?.close(1000, "bye"); }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  onFrame(frame) {
    if (frame.id !== undefined && this.pending.has(frame.id)) {
      const { resolve, reject } = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      if (frame.type === "error") reject(Object.assign(new Error(frame.message), { code: frame.code }));
      else resolve(frame);
    }
    // The replica lost (stream.interrupted) and regained (stream.restored) its message bus: the socket stays open,
    // frames are only delayed. Nothing is to be resent; stream.restored {recovered:false} lists generations to reload.
    if (frame.type === "stream.interrupted") this.emit("status", { state: "interrupted", conversationId: frame.conversationId });
    if (frame.type === "stream.restored") this.emit("status", { state: "open", conversationId: frame.conversationId });
    this.emit("frame", frame);
  }

  request(frame) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      if (this.ws?.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  sendSubscribe(conversationId, { generationId = null, after = null } = {}) {
    const frame = { type: "subscribe", conversationId };
    if (generationId) { frame.generationId = generationId; frame.after = after ?? -1; }
    return this.request(frame).catch((e) => this.emit("error", e));
  }

  /** Subscribes (and remembers it for reconnects). `resume` = {generationId, after} of an in-flight reply. */
  subscribe(conversationId, resume = null) {
    this.subscriptions.set(conversationId, resume ?? {});
    if (this.ws?.readyState === WebSocket.OPEN) return this.sendSubscribe(conversationId, resume ?? {});
    return Promise.resolve();
  }

  /** Keeps the resume point current so a reconnect continues after the last chunk rendered. */
  progress(conversationId, generationId, seq) {
    if (this.subscriptions.has(conversationId)) this.subscriptions.set(conversationId, { generationId, after: seq });
  }

  unsubscribe(conversationId) {
    this.subscriptions.delete(conversationId);
    if (this.ws?.readyState === WebSocket.OPEN) this.request({ type: "unsubscribe", conversationId }).catch(() => {});
  }

  send(conversationId, content, { model, provider } = {}) {
    const clientMessageId = crypto.randomUUID();
    return this.request({ type: "message.send", conversationId, content, clientMessageId, ...(model ? { model } : {}), ...(provider ? { provider } : {}) });
  }

  cancel(generationId) { return this.request({ type: "generation.cancel", generationId }); }
}
