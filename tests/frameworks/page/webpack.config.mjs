// webpack 5, page bundle: nothing for the package; an entry and an output folder.
export default { mode: "production", entry: "./main.js", output: { path: new URL("dist/webpack", import.meta.url).pathname } };
