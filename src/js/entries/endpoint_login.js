// The entry of each module for pages and bundlers (the `default` condition): the
// wasm-bindgen glue as it is, with an `init()` whose failure is an EndpointLoginError that
// says what could not be loaded, and an `isEndpointLoginError` that needs no WebAssembly.
// (cargo xtask build copies it beside each module's glue, `glue.js`, under this name: a page
// without a bundler imports `endpoint_login.js` as before.)
import start from "./glue.js";

export * from "./glue.js";

const NAME = "EndpointLoginError";

/** True when `e` is an error thrown by this library; answers before `init()` too. */
export function isEndpointLoginError(e) {
  return e instanceof Error && e.name === NAME && typeof e.code === "string";
}

/**
 * Loads the module's WebAssembly once, from beside this file unless `options` says where
 * from. A failure rejects with `LOAD_FAILED`, naming what was asked for and why (the
 * cause's message carries the URL and status, or the module that is missing).
 */
export default async function init(options = { module_or_path: new URL("endpoint_login_bg.wasm", import.meta.url) }) {
  try {
    return await start(options);
  } catch (cause) {
    const source = options?.module_or_path ?? options;
    const where = typeof source == "string" || source instanceof URL ? source : source?.url || "what init() was given";
    const error = new Error(`init() could not load endpoint-login's WebAssembly from ${where}: ${cause?.message} (README: Frameworks)`, {
      cause,
    });
    error.name = NAME;
    error.code = "LOAD_FAILED";
    throw error;
  }
}
