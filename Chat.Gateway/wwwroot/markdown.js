// A deliberately small Markdown renderer for model output. It escapes ALL HTML first, then recognises a few
// constructs (code fences, inline code, bold, italic, links with http(s) targets, headings, lists, paragraphs).
// Because nothing from the input is ever interpreted as HTML, <script>, onerror= and friends render as text.

const escapeHtml = (s) => s
  .replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
  .replaceAll('"', "&quot;").replaceAll("'", "&#39;");

function inline(text) {
  // text is already escaped
  return text
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)"]+)\)/g, '<a href="$2" rel="noopener noreferrer nofollow" target="_blank">$1</a>');
}

export function renderMarkdown(source) {
  const lines = escapeHtml(source ?? "").split("\n");
  const out = [];
  let paragraph = [];
  let list = null;
  let fence = null;

  const flushParagraph = () => { if (paragraph.length) { out.push(`<p>${inline(paragraph.join("<br>"))}</p>`); paragraph = []; } };
  const flushList = () => { if (list) { out.push(`<ul>${list.map((i) => `<li>${inline(i)}</li>`).join("")}</ul>`); list = null; } };

  for (const line of lines) {
    if (fence !== null) {
      if (line.startsWith("```")) { out.push(`<pre><code>${fence.join("\n")}</code></pre>`); fence = null; }
      else fence.push(line);
      continue;
    }
    if (line.startsWith("```")) { flushParagraph(); flushList(); fence = []; continue; }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) { flushParagraph(); flushList(); const n = Math.min(heading[1].length + 2, 6); out.push(`<h${n}>${inline(heading[2])}</h${n}>`); continue; }
    const item = /^\s*[-*]\s+(.*)$/.exec(line);
    if (item) { flushParagraph(); (list ??= []).push(item[1]); continue; }
    if (line.trim() === "") { flushParagraph(); flushList(); continue; }
    flushList();
    paragraph.push(line);
  }
  if (fence !== null) out.push(`<pre><code>${fence.join("\n")}</code></pre>`); // unterminated while streaming
  flushParagraph(); flushList();
  return out.join("");
}
