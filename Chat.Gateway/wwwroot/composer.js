import { $, showError, clearError } from "./ui.js";
import { messageElement } from "./message-view.js";

/** The message box with Send and Stop: Enter sends, Shift+Enter breaks the line; Stop cancels the reply in progress. */
export class Composer {
  constructor({ socket, view, replies, models }) {
    this.socket = socket;
    this.view = view;
    this.replies = replies;
    this.models = models;
    $("composer").addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    $("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
    });
    $("stop").addEventListener("click", () => this.stop());
  }

  /** Enables what the open conversation allows: nothing when deleted or archived, Stop while a reply streams. */
  update() {
    const c = this.view.conversation;
    const usable = Boolean(c) && !c.deletedAt && c.status !== "archived";
    const busy = Boolean(this.replies.active);
    $("input").disabled = !usable;
    $("send").disabled = !usable || busy;
    $("stop").hidden = !busy;
  }

  async send() {
    const content = $("input").value.trim();
    const conversation = this.view.conversation;
    if (!content || !conversation) return;
    clearError();
    const own = messageElement({ id: "", role: "user", content, status: "completed" });
    const messages = $("messages");
    messages.append(own);
    messages.scrollTop = messages.scrollHeight;
    $("input").value = "";
    $("send").disabled = true;
    try {
      const ack = await this.socket.send(conversation.id, content, this.models.chosen());
      own.dataset.id = ack.messageId ?? "";
    } catch (err) { own.classList.add("failed"); showError(err); this.update(); }
  }

  async stop() {
    if (!this.replies.active) return;
    try { await this.socket.cancel(this.replies.active); } catch (err) { showError(err); }
  }
}
