// The entry of each module in Cloudflare Workers (`workerd`) and Next.js's Edge runtime
// (`edge-light`), where WebAssembly cannot be compiled from bytes at run time: the .wasm is
// imported as a compiled module, the way both require, and `await init()` instantiates it.
import wasm from "./endpoint_login_bg.wasm?module";
import start from "./endpoint_login.js";

export * from "./endpoint_login.js";

export default function init(options) {
  return start(options ?? { module_or_path: wasm });
}
