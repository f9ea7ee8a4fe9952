// Small page helpers shared by the client's modules: element lookup and the one error line.

export const $ = (id) => document.getElementById(id);

/** Shows an error (an ApiError, a socket error frame or an Error); a 401 also asks the page to sign in again. */
export function showError(err) {
  const code = err?.code ? ` (${err.code})` : "";
  $("error").textContent = `${err?.message ?? err}${code}`;
  if (err?.status === 401) document.dispatchEvent(new CustomEvent("chat:session-expired"));
}

export function clearError() { $("error").textContent = ""; }
