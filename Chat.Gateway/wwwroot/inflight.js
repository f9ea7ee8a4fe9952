// The reply in progress, kept in sessionStorage so a reload shows the text received so far and resumes after its seq.
const INFLIGHT_KEY = "chat.inflight"; // {conversationId, generationId, messageId, seq, text}

export function readInflight() {
  try { return JSON.parse(sessionStorage.getItem(INFLIGHT_KEY)); } catch { return null; }
}

export function writeInflight(value) {
  if (value) sessionStorage.setItem(INFLIGHT_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(INFLIGHT_KEY);
}

/** Forgets the stored reply if it is `generationId`'s. */
export function clearInflight(generationId) {
  if (readInflight()?.generationId === generationId) writeInflight(null);
}
