// Small DOM helpers shared by the panels. Nothing here knows about the library except
// how to show its errors.
import { isEndpointLoginError } from "/pkg/endpoint_login.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** Creates an element: el("td", { class: "uri" }, "text", otherNode). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

/** Shows an error next to what caused it: its code and message. */
export function showError(target, error) {
  target.replaceChildren();
  if (isEndpointLoginError(error)) {
    target.append(el("code", {}, error.code), ": ", error.message);
  } else {
    target.append(String(error?.message ?? error));
  }
  target.hidden = false;
}

export function clearError(target) {
  target.hidden = true;
  target.replaceChildren();
}

/** Runs `work`, showing its failure in `errorTarget`; returns its result or undefined. */
export async function attempt(errorTarget, work) {
  clearError(errorTarget);
  try {
    return await work();
  } catch (error) {
    showError(errorTarget, error);
    return undefined;
  }
}

/** "1 h 5 min", "3 min", "45 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return rest ? `${m} min ${rest} s` : `${m} min`;
  return `${rest} s`;
}

/** "09:59" or "1:02:03". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function setStatus(state, text) {
  const pill = $("#status");
  pill.dataset.state = state;
  pill.textContent = text;
}
