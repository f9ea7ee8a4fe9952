import { $ } from "./ui.js";
import { itemsOf } from "./api.js";

/** The model picker in the top bar: filled from /api/v1/models; empty means the server's default. */
export class ModelPicker {
  constructor(api) { this.api = api; }

  async load() {
    const select = $("model");
    select.replaceChildren();
    try {
      for (const m of itemsOf(await this.api.models())) {
        const name = m.model ?? m.name ?? m.id;
        const option = document.createElement("option");
        option.value = JSON.stringify({ model: name, provider: m.provider });
        option.textContent = `${name}${m.provider ? ` (${m.provider})` : ""}`;
        select.append(option);
      }
    } catch { /* models are optional: the server's default applies */ }
  }

  /** {model, provider} of the choice, or {} for the default. */
  chosen() {
    try { return JSON.parse($("model").value || "{}"); } catch { return {}; }
  }
}
