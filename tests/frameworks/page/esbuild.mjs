// esbuild, page bundle: one plugin, for `new URL("….wasm", import.meta.url)`.
import { build } from "esbuild";
import metaUrl from "@chialab/esbuild-plugin-meta-url";

await build({ entryPoints: ["main.js"], bundle: true, format: "esm", outdir: "dist/esbuild", plugins: [metaUrl()] });
