// Shortens the names a wasm-bindgen module imports and exports (`__wbg_fetch_9b47...`,
// `endpointclient_listEndpoints`, ...) to `a`, `b`, ... in the .wasm and in its glue, which
// refer to each other only by these names. Their random hashes compress badly and each is
// written twice, once on each side: a few KB of every page's download. `memory` and
// `__wbindgen_start` keep their names. Fails if a name of the glue is left unmapped.
//
// usage: node minify-names.mjs <module.wasm> <glue.js>   (both rewritten in place)
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, gluePath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
let glue = readFileSync(gluePath, "utf8");

const KEEP = new Set(["memory", "__wbindgen_start"]);
const IMPORT_SECTION = 2;
const EXPORT_SECTION = 7;

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
function uleb(at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

function encodeUleb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return out;
}

function name(text) {
  const utf8 = Buffer.from(text, "utf8");
  return [...encodeUleb(utf8.length), ...utf8];
}

/** Reads a name at `at`: [text, next offset]. */
function readName(at) {
  const [length, start] = uleb(at);
  return [bytes.subarray(start, start + length).toString("utf8"), start + length];
}

/** Skips an import's description (function, table, memory, global or tag). */
function skipImportDescription(kind, at) {
  const limits = (p) => {
    const flags = bytes[p];
    let [, next] = uleb(p + 1);
    if (flags & 1) [, next] = uleb(next);
    return next;
  };
  switch (kind) {
    case 0: return uleb(at)[1];
    case 1: return limits(at + 1);
    case 2: return limits(at);
    case 3: return at + 2;
    default: return uleb(at + 1)[1];
  }
}

// Names a bundler cannot use: a bundler that imports the module as an ES module (Turbopack,
// webpack's asyncWebAssembly) makes each import name a binding, and `do` or `if` is none.
const RESERVED = new Set(
  ("await break case catch class const continue debugger default delete do else enum export extends false " +
    "finally for function if implements import in instanceof interface let new null package private protected " +
    "public return static super switch this throw true try typeof var void while with yield").split(" "),
);

let next = 0;
function shortName() {
  for (;;) {
    let i = next++;
    let text = "";
    do {
      text = String.fromCharCode(97 + (i % 26)) + text;
      i = Math.floor(i / 26) - 1;
    } while (i >= 0);
    if (!RESERVED.has(text)) return text;
  }
}

const imports = new Map();
const exports = new Map();
const sections = [bytes.subarray(0, 8)];
let at = 8;
while (at < bytes.length) {
  const id = bytes[at];
  const [size, start] = uleb(at + 1);
  const end = start + size;
  if (id === IMPORT_SECTION || id === EXPORT_SECTION) {
    let [count, p] = uleb(start);
    const body = [...encodeUleb(count)];
    for (let i = 0; i < count; i++) {
      if (id === IMPORT_SECTION) {
        const [module, afterModule] = readName(p);
        const [field, afterField] = readName(afterModule);
        const kind = bytes[afterField];
        const afterDescription = skipImportDescription(kind, afterField + 1);
        let renamed = field;
        if (kind === 0 && field.startsWith("__wb")) {
          renamed = shortName();
          imports.set(field, renamed);
        }
        body.push(...name(module), ...name(renamed), ...bytes.subarray(afterField, afterDescription));
        p = afterDescription;
      } else {
        const [field, afterField] = readName(p);
        const [, afterIndex] = uleb(afterField + 1);
        let renamed = field;
        if (!KEEP.has(field)) {
          renamed = shortName();
          exports.set(field, renamed);
        }
        body.push(...name(renamed), ...bytes.subarray(afterField, afterIndex));
        p = afterIndex;
      }
    }
    sections.push(Buffer.from([id, ...encodeUleb(body.length), ...body]));
  } else {
    sections.push(bytes.subarray(at, end));
  }
  at = end;
}

for (const [from, to] of imports) {
  // The glue defines each import as a property of its imports object: `name: function`.
  const key = new RegExp(`\\b${from}\\b(?=\\s*:)`, "g");
  if (!key.test(glue)) throw new Error(`the glue does not define the import ${from}`);
  glue = glue.replace(key, to);
}
for (const [from, to] of exports) {
  glue = glue.replace(new RegExp(`\\bwasm\\.${from}\\b`, "g"), `wasm.${to}`);
}
const unmapped = (glue.match(/\bwasm\.[A-Za-z_$][\w$]*/g) ?? []).filter((use) => {
  const field = use.slice("wasm.".length);
  return !KEEP.has(field) && ![...exports.values()].includes(field);
});
if (unmapped.length) throw new Error(`the glue uses exports left unmapped: ${unmapped.join(", ")}`);

const module = Buffer.concat(sections);
new WebAssembly.Module(module); // still valid
writeFileSync(wasmPath, module);
writeFileSync(gluePath, glue);
console.log(`    ${imports.size} imports and ${exports.size} exports renamed`);
