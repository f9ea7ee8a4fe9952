// REST client for Chat.Api through the gateway. Every error becomes an Error carrying the problem details.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
    this.problem = problem;
  }
}

export class Api {
  constructor(getToken) { this.getToken = getToken; }

  async request(method, path, { body, headers = {}, raw = false } = {}) {
    const token = this.getToken();
    const response = await fetch(path, {
      method,
      headers: {
        Accept: "application/json",
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (raw) return response;
    if (!response.ok) {
      let problem = null;
      try { problem = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, problem);
    }
    if (response.status === 204) return null;
    const data = await response.json();
    const etag = response.headers.get("ETag");
    if (etag && data && typeof data === "object") Object.defineProperty(data, "etag", { value: etag, enumerable: false });
    return data;
  }

  devToken(userId, tenantId) {
    return this.request("POST", "/api/v1/dev/token", { body: { userId, tenantId, scopes: "chat.read chat.write", lifetimeMinutes: 480 } });
  }

  listConversations({ status = "active", cursor = null, limit = 20 } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    q.set("status", status);
    if (cursor) q.set("cursor", cursor);
    return this.request("GET", `/api/v1/conversations?${q}`);
  }

  createConversation(title) { return this.request("POST", "/api/v1/conversations", { body: { title } }); }
  getConversation(id) { return this.request("GET", `/api/v1/conversations/${id}`); }
  renameConversation(id, title, etag) {
    return this.request("PATCH", `/api/v1/conversations/${id}`, { body: { title }, headers: etag ? { "If-Match": etag } : {} });
  }
  archive(id) { return this.request("POST", `/api/v1/conversations/${id}/archive`); }
  unarchive(id) { return this.request("POST", `/api/v1/conversations/${id}/unarchive`); }
  remove(id) { return this.request("DELETE", `/api/v1/conversations/${id}`); }
  restore(id) { return this.request("POST", `/api/v1/conversations/${id}/restore`); }

  listMessages(id, { before = null, limit = 30 } = {}) {
    // First the newest page (latest=true), then older pages through the returned cursor.
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set("before", before); else q.set("latest", "true");
    return this.request("GET", `/api/v1/conversations/${id}/messages?${q}`);
  }

  models() { return this.request("GET", "/api/v1/models"); }
}

/** Normalises list responses: `{items, nextCursor}` (or a bare array). */
export const itemsOf = (page) => Array.isArray(page) ? page : (page?.items ?? page?.data ?? []);
export const cursorOf = (page) => page?.nextCursor ?? page?.next_cursor ?? null;
