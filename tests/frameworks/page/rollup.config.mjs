// Rollup, page bundle: one plugin for the .wasm (importMetaAssets), beside the node-resolve
// every Rollup build that imports from node_modules has.
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { importMetaAssets } from "@web/rollup-plugin-import-meta-assets";

export default { input: "main.js", output: { dir: "dist/rollup", format: "es" }, plugins: [nodeResolve(), importMetaAssets()] };
