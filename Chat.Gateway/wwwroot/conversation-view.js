import { $, showError, clearError } from "./ui.js";
import { itemsOf, cursorOf } from "./api.js";
import { messageElement } from "./message-view.js";

/**
 * The open conversation: its header and actions (rename, archive, delete, restore) and its history, paged in
 * upward as the reader scrolls. Live replies are the Replies' job; onChange() tells the composer to update.
 */
export class ConversationView {
  constructor({ api, socket, list, replies, onChange }) {
    this.api = api;
    this.socket = socket;
    this.list = list;
    this.replies = replies;
    this.onChange = onChange;
    this.conversation = null;
    this.historyCursor = null; // oldest message shown (for paging upward)
    this.historyDone = false;
    this.loadingHistory = false;
    this.messages = $("messages");

    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.historyCursor) this.loadOlder();
    }, { root: this.messages }).observe($("history-sentinel"));
    $("rename").addEventListener("click", () => this.rename());
    $("archive").addEventListener("click", () => this.act((c) => c.status === "archived" ? this.api.unarchive(c.id) : this.api.archive(c.id)));
    $("restore").addEventListener("click", () => this.act((c) => this.api.restore(c.id)));
    $("delete").addEventListener("click", () => this.remove());
  }

  async open(id) {
    if (this.conversation) this.socket.unsubscribe(this.conversation.id);
    clearError();
    let conversation;
    try { conversation = await this.api.getConversation(id); }
    catch (err) { showError(err); return; }
    this.conversation = conversation;
    this.historyCursor = null;
    this.historyDone = false;
    location.hash = `#/c/${id}`;
    this.list.select(id);
    this.renderHeader();
    this.messages.replaceChildren($("history-sentinel"));
    await this.loadOlder(true);
    await this.replies.follow(id);
    this.onChange();
  }

  /** Reads the conversation again from the REST history if it is the open one. */
  reopenIf(id) {
    if (this.conversation?.id === id) return this.open(id);
    return Promise.resolve();
  }

  renderHeader() {
    const c = this.conversation;
    const deleted = Boolean(c.deletedAt);
    $("conversation-title").textContent = c.title || "Untitled";
    $("rename").disabled = deleted;
    $("archive").disabled = deleted;
    $("archive").textContent = c.status === "archived" ? "Unarchive" : "Archive";
    $("delete").disabled = deleted;
    $("restore").hidden = !deleted;
  }

  async loadOlder(scrollToEnd = false) {
    const c = this.conversation;
    if (!c || this.loadingHistory || this.historyDone) return;
    this.loadingHistory = true;
    try {
      const page = await this.api.listMessages(c.id, { before: this.historyCursor });
      // Pages come newest-first or oldest-first depending on the API; render in conversation order.
      const ordered = [...itemsOf(page)].sort((a, b) =>
        a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1);
      const anchor = $("history-sentinel").nextSibling;
      const previousHeight = this.messages.scrollHeight;
      for (const m of ordered) this.messages.insertBefore(messageElement(m), anchor);
      this.historyCursor = cursorOf(page);
      this.historyDone = !this.historyCursor;
      if (scrollToEnd) this.messages.scrollTop = this.messages.scrollHeight;
      else this.messages.scrollTop += this.messages.scrollHeight - previousHeight;
    } catch (err) { showError(err); }
    finally { this.loadingHistory = false; }
  }

  async rename() {
    const c = this.conversation;
    const title = prompt("New title", c.title ?? "");
    if (title === null) return;
    await this.act(() => this.api.renameConversation(c.id, title.trim(), c.etag));
  }

  async remove() {
    if (!confirm("Delete this conversation? It can be restored for a while.")) return;
    const c = this.conversation;
    await this.act(async () => { await this.api.remove(c.id); return { ...c, deletedAt: new Date().toISOString() }; });
  }

  /** Runs an action on the open conversation; shows what it returns (or reads the conversation again). */
  async act(action) {
    const c = this.conversation;
    try {
      this.conversation = (await action(c)) ?? await this.api.getConversation(c.id);
      this.renderHeader();
      this.onChange();
      await this.list.reload();
    } catch (err) { showError(err); }
  }
}
