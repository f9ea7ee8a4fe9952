import { markdownBlocks, normalizeNewlines, sanitize } from "./markdown.js";

/**
 * Markdown rendered into one element, block by block: a block's DOM is replaced only when its HTML changed, so a
 * streaming reply keeps its finished paragraphs, lists and tables and only its last blocks are redrawn.
 *
 * While streaming (`stream`), blocks before the last two are frozen: later text cannot change them, so each update
 * parses only the text from the first open block on (the last two stay open because a new item after a blank line
 * can still join the list before it). Text that changes an earlier block anyway (a reference definition, a line
 * that turns the previous block's end into something else) is put right by `render`, which parses the whole text:
 * its result always equals a full render, and it still replaces only the blocks whose HTML differs.
 */
export class MarkdownView {
  constructor(element) {
    this.element = element;
    this.blocks = [];      // [{html, nodes}] in document order
    this.frozen = 0;       // blocks[0, frozen) are final while streaming
    this.frozenChars = 0;  // source offset where the open blocks start
  }

  /** Renders the whole of `source` (a stored message, or a reply that has finished). */
  render(source) {
    this.frozen = 0;
    this.frozenChars = 0;
    this.replaceFrom(0, markdownBlocks(normalizeNewlines(source)));
  }

  /** Renders a reply still streaming: `source` is the text so far (it only grows). */
  stream(source) {
    const tail = normalizeNewlines(source).slice(this.frozenChars);
    const blocks = markdownBlocks(tail);
    this.replaceFrom(this.frozen, blocks);
    const freeze = blocks.length - 2;
    const line = blocks[freeze]?.line;
    if (freeze > 0 && line !== undefined) {
      this.frozen += freeze;
      this.frozenChars += lineOffset(tail, line);
    }
  }

  /** Makes blocks[from..] equal `next`, keeping the DOM of every block whose HTML is unchanged. */
  replaceFrom(from, next) {
    let same = 0;
    while (same < next.length && this.blocks[from + same]?.html === next[same].html) same++;
    for (const block of this.blocks.splice(from + same)) for (const node of block.nodes) node.remove();
    for (const { html } of next.slice(same)) {
      const fragment = sanitize(html);
      const nodes = [...fragment.childNodes];
      this.element.append(fragment);
      this.blocks.push({ html, nodes });
    }
  }
}

function lineOffset(text, line) {
  let offset = 0;
  for (let i = 0; i < line; i++) offset = text.indexOf("\n", offset) + 1;
  return offset;
}
