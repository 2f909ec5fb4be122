// What the panels share: the connection and the endpoints on screen. Panels subscribe
// to changes instead of reaching into each other.
const listeners = new Set();

export const state = {
  /** The EndpointClient, or null before connecting. */
  client: null,
  /** "plivo" or "vobiz". */
  dialect: "plivo",
  /** "direct" or "backend". */
  mode: "direct",
  /** The endpoints of the page shown in the table. */
  endpoints: [],
  /** The credentials `rotatePassword()` returned last (`{ username, password }`), in memory only. */
  rotated: null,
};

export function update(changes) {
  Object.assign(state, changes);
  for (const listener of listeners) listener(state, changes);
}

export function subscribe(listener) {
  listeners.add(listener);
}
