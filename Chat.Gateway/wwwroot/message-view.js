import { MarkdownView } from "./markdown-view.js";
import { renderMarkdown } from "./markdown.js";

/** One message as an <article>: its Markdown body and a meta line (role · model · status). */
export function messageElement(m) {
  const el = document.createElement("article");
  el.className = `message ${m.role} ${m.status ?? "completed"}`;
  el.dataset.id = m.id;
  const body = document.createElement("div");
  body.className = "body";
  body.innerHTML = renderMarkdown(m.content ?? ""); // sanitised by DOMPurify
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = metaText(m.role, m.model, m.status);
  el.append(body, meta);
  return el;
}

const metaText = (role, model, status) =>
  [role, model, status && status !== "completed" ? status : null].filter(Boolean).join(" · ");

/** Keeps the message list pinned to its end when the reader is already there. */
export function keepAtEnd(box, change) {
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  change();
  if (atEnd) box.scrollTop = box.scrollHeight;
}

/**
 * A reply while it streams. Its body is the one polite live region of the page (screen readers hear the reply
 * grow, not the rest of the conversation), until it ends. Chunks only record text; rendering waits for the next
 * animation frame, so the chunks of one frame cost one render (see MarkdownView for what a render redraws).
 */
export class ReplyView {
  constructor(messages, messageId) {
    this.messages = messages;
    this.el = (messageId && messages.querySelector(`[data-id="${messageId}"]`))
      || messages.appendChild(messageElement({ id: messageId ?? "", role: "assistant", content: "", status: "streaming" }));
    this.el.classList.add("streaming");
    this.body = this.el.querySelector(".body");
    this.body.replaceChildren(); // a stored partial reply is redrawn from the stream's text
    this.body.setAttribute("aria-live", "polite");
    this.markdown = new MarkdownView(this.body);
    this.text = "";
    this.frame = 0;
  }

  /** Shows `text` (the whole reply so far) at the next animation frame. */
  show(text) {
    this.text = text;
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      keepAtEnd(this.messages, () => this.markdown.stream(this.text));
    });
  }

  /** The reply ended: a full render now (hidden tabs get no animation frames), status in the meta line. */
  finish(status, model) {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    keepAtEnd(this.messages, () => this.markdown.render(this.text));
    this.body.removeAttribute("aria-live");
    this.el.classList.remove("streaming");
    if (status !== "completed") this.el.classList.add(status);
    this.el.querySelector(".meta").textContent = metaText("assistant", model, status);
  }

  /** The reply is dropped (the conversation reloads from the REST history). */
  abandon() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
