import { $, showError } from "./ui.js";
import { readInflight, writeInflight, clearInflight } from "./inflight.js";
import { ReplyView } from "./message-view.js";

/**
 * The replies streaming into the open conversation, from the socket's frames: chunks in seq order (a gap asks for
 * the rest), the reply in progress remembered across reloads, and the end of each reply.
 * Callbacks: onChange() when a reply starts or ends, onSettled(conversationId) after one ended,
 * onLost(conversationId) when frames were lost and the conversation must be read again from the REST history.
 */
export class Replies {
  constructor({ socket, onChange, onSettled, onLost }) {
    this.socket = socket;
    this.onChange = onChange;
    this.onSettled = onSettled;
    this.onLost = onLost;
    this.conversationId = null;
    this.live = new Map(); // generationId -> {view, text, seq, messageId, conversationId}
    this.active = null;    // generationId of the reply in progress in the open conversation
    socket.addEventListener("frame", ({ detail }) => this.handle(detail));
  }

  /** Follows `conversationId` (its history is already shown): resumes a reply that was streaming before a reload. */
  follow(conversationId) {
    for (const live of this.live.values()) live.view.abandon();
    this.live.clear();
    this.active = null;
    this.conversationId = conversationId;
    const inflight = readInflight();
    if (inflight?.conversationId !== conversationId) return this.socket.subscribe(conversationId, null);
    const live = this.track(inflight.generationId, inflight.messageId, conversationId);
    live.text = inflight.text;
    live.seq = inflight.seq;
    live.view.show(live.text);
    return this.socket.subscribe(conversationId, { generationId: inflight.generationId, after: inflight.seq });
  }

  handle(f) {
    switch (f.type) {
      case "subscribed":
        // The replay window has passed: the REST history has the final message.
        if (f.recovered === false && readInflight()?.conversationId === f.conversationId) {
          writeInflight(null);
          this.onLost(f.conversationId);
        }
        break;
      case "generation.started":
        if (f.conversationId !== this.conversationId || this.live.has(f.generationId)) break;
        this.track(f.generationId, f.messageId, f.conversationId);
        writeInflight({ conversationId: f.conversationId, generationId: f.generationId, messageId: f.messageId, seq: 0, text: "" });
        this.onChange();
        break;
      case "chunk":
        this.chunk(f);
        break;
      case "generation.completed":
      case "generation.failed":
      case "generation.cancelled":
        this.end(f);
        break;
      case "stream.restored":
        // Frames of these generations were lost with the message bus: forget their partial text and read the
        // conversation again (it resubscribes; a reply still streaming continues live).
        if (f.recovered !== false) break;
        for (const generationId of f.generationIds ?? []) this.forget(generationId);
        if (f.conversationId === this.conversationId) this.onLost(f.conversationId);
        break;
      case "error":
        if (f.id === undefined) showError(f);
        break;
    }
  }

  track(generationId, messageId, conversationId) {
    const live = { view: new ReplyView($("messages"), messageId), text: "", seq: 0, messageId, conversationId };
    this.live.set(generationId, live);
    this.active = generationId;
    return live;
  }

  chunk(f) {
    const live = this.live.get(f.generationId);
    if (!live || f.seq <= live.seq) return;          // duplicate or unknown: ignore
    if (f.seq !== live.seq + 1) {                     // a gap: ask for the rest
      this.socket.sendSubscribe(live.conversationId, { generationId: f.generationId, after: live.seq });
      return;
    }
    live.seq = f.seq;
    live.text += f.delta;
    live.view.show(live.text);
    this.rememberSoon(f.generationId, live);
    this.socket.progress(live.conversationId, f.generationId, live.seq);
  }

  /** Remembers the reply in progress for a reload at the next animation frame, not per chunk (its seq and text agree). */
  rememberSoon(generationId, live) {
    this.unsaved = { generationId, live };
    this.saveFrame ||= requestAnimationFrame(() => {
      this.saveFrame = 0;
      const { generationId, live } = this.unsaved;
      if (this.live.get(generationId) !== live) return; // it ended meanwhile
      writeInflight({ conversationId: live.conversationId, generationId, messageId: live.messageId, seq: live.seq, text: live.text });
    });
  }

  end(f) {
    this.live.get(f.generationId)?.view.finish(f.code === "interrupted" ? "interrupted" : f.type.split(".")[1], f.model);
    if (f.type === "generation.failed") showError({ message: f.message || "The reply failed.", code: f.code });
    this.forget(f.generationId);
    this.onChange();
    this.onSettled(f.conversationId);
  }

  forget(generationId) {
    this.live.get(generationId)?.view.abandon();
    this.live.delete(generationId);
    clearInflight(generationId);
    if (this.active === generationId) this.active = null;
  }
}
