// House rules of js/src, checked on the source text: small functions, every module tested, no
// HTML parsing of text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "acorn";

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, "..", "src");
const MAX_FUNCTION_LINES = 80;
const FUNCTIONS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith(".js") ? [p] : [];
  });
}

const parseFile = (file) => parse(readFileSync(file, "utf8"), { ecmaVersion: "latest", sourceType: "module", locations: true });

/** Every AST node below `node`, depth first. */
function* nodes(node) {
  if (!node || typeof node.type !== "string") return;
  yield node;
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const v of value) yield* nodes(v);
    else if (value && typeof value === "object") yield* nodes(value);
  }
}

const rel = (file) => path.relative(path.join(here, ".."), file);
const sources = jsFiles(SRC);

test("the source tree is found and parses", () => {
  assert.ok(sources.length > 10, `only ${sources.length} modules under ${SRC}`);
  for (const entry of ["explorer/index.js", "annotator/index.js"]) assert.ok(sources.includes(path.join(SRC, entry)), entry);
});

test(`no function in js/src is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const long = [];
  for (const file of sources) {
    for (const n of nodes(parseFile(file))) {
      if (!FUNCTIONS.has(n.type)) continue;
      const lines = n.loc.end.line - n.loc.start.line + 1;
      if (lines > MAX_FUNCTION_LINES) long.push(`${rel(file)}:${n.loc.start.line} ${n.id?.name ?? "(anonymous)"} has ${lines} lines`);
    }
  }
  assert.deepEqual(long, []);
});

test("every module of js/src (but the entries) is imported by a test file", () => {
  const imported = new Set();
  for (const file of readdirSync(here).filter((f) => f.endsWith(".js")).map((f) => path.join(here, f))) {
    for (const n of nodes(parseFile(file))) {
      const source = n.type === "ImportDeclaration" || n.type === "ImportExpression" ? n.source : null;
      if (source?.type === "Literal" && String(source.value).startsWith(".")) imported.add(path.resolve(here, source.value));
    }
  }
  const untested = sources.filter((f) => path.basename(f) !== "index.js" && !imported.has(f)).map(rel);
  assert.deepEqual(untested, []);
});

test("no module sets HTML from strings (text goes in with textContent)", () => {
  const html = new Set(["innerHTML", "outerHTML", "insertAdjacentHTML"]);
  const found = [];
  for (const file of sources) {
    for (const n of nodes(parseFile(file))) {
      if (n.type === "MemberExpression" && html.has(n.property.name ?? n.property.value)) found.push(`${rel(file)}:${n.loc.start.line}`);
    }
  }
  assert.deepEqual(found, []);
});

test("npm test runs every test file of this folder", () => {
  const pkg = JSON.parse(readFileSync(path.join(here, "..", "package.json"), "utf8"));
  assert.equal(pkg.scripts.test, "node --test test/*.test.js");
  const misnamed = readdirSync(here).filter((f) => f.endsWith(".js") && !f.endsWith(".test.js") && f !== "helpers.js");
  assert.deepEqual(misnamed, [], "test files must end in .test.js to be run");
});
