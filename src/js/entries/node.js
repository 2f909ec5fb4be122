// The entry of each module in Node, Deno, Bun and server bundles (the `node` condition):
// `await init()` takes the WebAssembly from a JavaScript module beside this file, so that
// no bundler has to emit or find a .wasm file (Next.js's webpack and Turbopack, esbuild
// and Rollup building for Node bundle it as any other module).
import { Buffer } from "node:buffer";
import start from "./endpoint_login.js";

export * from "./endpoint_login.js";

export default function init(options) {
  return start(
    options ?? { module_or_path: import("./endpoint_login_bg.wasm.js").then((m) => Buffer.from(m.default, "base64")) },
  );
}
