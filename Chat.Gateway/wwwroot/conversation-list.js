import { $, showError } from "./ui.js";
import { itemsOf, cursorOf } from "./api.js";

/**
 * The sidebar: the tenant's conversations, paged in as the list scrolls (the API's cursors). Each entry is a button,
 * so the list is reached with Tab and opened with Enter or Space; the open one carries aria-current.
 */
export class ConversationList {
  constructor({ api, onOpen }) {
    this.api = api;
    this.onOpen = onOpen;
    this.status = "active";
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.selectedId = null;
    this.list = $("conversations");

    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }).observe($("conversations-sentinel"));
    $("status-filter").addEventListener("change", (e) => { this.status = e.target.value; this.reload(); });
    $("new-conversation").addEventListener("click", () => this.create());
  }

  async reload() {
    this.cursor = null;
    this.done = false;
    this.list.replaceChildren();
    await this.loadMore();
  }

  async loadMore() {
    if (this.loading || this.done) return;
    this.loading = true;
    try {
      const page = await this.api.listConversations({ status: this.status, cursor: this.cursor });
      for (const c of itemsOf(page)) this.list.append(this.item(c));
      this.cursor = cursorOf(page);
      this.done = !this.cursor;
    } catch (err) { showError(err); }
    finally { this.loading = false; }
  }

  async create() {
    try {
      const c = await this.api.createConversation("New conversation");
      if (this.status !== "active") { this.status = "active"; $("status-filter").value = "active"; }
      await this.reload();
      await this.onOpen(c.id);
    } catch (err) { showError(err); }
  }

  /** Marks the open conversation. */
  select(id) {
    this.selectedId = id;
    for (const button of this.list.querySelectorAll("button[data-id]")) {
      if (button.dataset.id === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  /** Updates one entry (message count, activity) after a reply, in place, so keyboard focus stays on it. */
  async refresh(id) {
    const button = this.list.querySelector(`button[data-id="${id}"]`);
    if (!button) return;
    try { this.fill(button, await this.api.getConversation(id)); } catch { /* the list is only a view */ }
  }

  item(c) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation-link";
    button.dataset.id = c.id;
    if (c.id === this.selectedId) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => this.onOpen(c.id));
    this.fill(button, c);
    li.append(button);
    return li;
  }

  fill(button, c) {
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = c.title || "Untitled";
    const meta = document.createElement("small");
    meta.textContent = `${c.messageCount ?? 0} messages · ${new Date(c.lastActivityAt ?? c.updatedAt ?? c.createdAt).toLocaleString()}`;
    button.replaceChildren(title, meta);
  }
}
