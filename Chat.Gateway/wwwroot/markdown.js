// Markdown for model output: markdown-it parses (raw HTML off, so <script> or onerror= in a reply is text), DOMPurify
// sanitises what it renders against a short allow-list. Both come from npm (ClientApp/package-lock.json) via wwwroot/lib.
import MarkdownIt from "./lib/markdown-it.esm.min.mjs";
import createDOMPurify from "./lib/purify.es.mjs";

const SAFE_LINK = /^(https?:|mailto:)/i;

const md = new MarkdownIt({ html: false, linkify: true, breaks: true });
md.validateLink = (url) => SAFE_LINK.test(url.trim()); // other links render as their text
md.disable("image"); // no image loads chosen by the model: ![alt](url) shows as "!" and a link
md.core.ruler.push("chat_blocks", (state) => {
  for (const token of state.tokens) {
    // The page has h1/h2 already: a reply's headings start at h3.
    if (token.type === "heading_open" || token.type === "heading_close") token.tag = `h${Math.min(Number(token.tag[1]) + 2, 6)}`;
    // Column alignment as a class: the gateway's CSP allows no inline styles.
    const align = /^text-align:(left|right|center)$/.exec(token.attrGet("style") ?? "");
    if (align) { token.attrs = token.attrs.filter(([name]) => name !== "style"); token.attrJoin("class", `align-${align[1]}`); }
  }
});

const purify = createDOMPurify(window);
const PURIFY = {
  ALLOWED_TAGS: ["a", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "s",
    "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"],
  ALLOWED_ATTR: ["href", "title", "class", "start"],
  RETURN_DOM_FRAGMENT: true,
};
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName !== "A") return;
  if (!SAFE_LINK.test(node.getAttribute("href") ?? "")) node.removeAttribute("href");
  node.setAttribute("rel", "noopener noreferrer nofollow");
  node.setAttribute("target", "_blank");
});

/** The sanitised DOM of one rendered block (or a whole document). */
export const sanitize = (html) => purify.sanitize(html, PURIFY);

/**
 * The top-level blocks of `source` (paragraph, list, table, fence…), each as {html, line} where line is its first
 * source line. Joined, the html equals markdown-it's render of the whole source.
 */
export function markdownBlocks(source) {
  const env = {};
  const tokens = md.parse(source, env);
  const blocks = [];
  let start = 0;
  tokens.forEach((token, i) => {
    // A block ends with its level-0 closing token, or is one level-0 token (fence, hr, code block).
    if (token.level !== 0 || token.nesting === 1) return;
    blocks.push({ html: md.renderer.render(tokens.slice(start, i + 1), md.options, env), line: tokens[start].map?.[0] });
    start = i + 1;
  });
  return blocks;
}

/** The whole of `source` rendered at once, as a sanitised DocumentFragment. */
export const renderMarkdown = (source) => sanitize(md.render(normalizeNewlines(source)));

export const normalizeNewlines = (source) => (source ?? "").replace(/\r\n?/g, "\n");
