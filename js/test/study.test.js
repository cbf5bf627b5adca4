// The study views' shared frame: status line states, the wait before an export, the PNG served
// to the kernel, the theme watcher and canvas sizing.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, tick } from "./helpers.js";
import { buildStudyView, statusOf, showStatus, whenReady, bindStudyExport, watchTheme, sizeCanvas } from "../src/study.js";
import { createRpc } from "../src/rpc.js";
import { Blob as NodeBlob } from "node:buffer";

const PNG_BYTES = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

before(() => installDom());

test("the status line: a lost kernel beats an error, which beats progress", () => {
  assert.deepEqual(statusOf({ status: "computing CKA: 3 of 8 batches…" }), { kind: "progress", text: "computing CKA: 3 of 8 batches…" });
  assert.deepEqual(statusOf({ status: "x", error: "ValueError: bad" }), { kind: "error", text: "ValueError: bad" });
  assert.deepEqual(statusOf({ error: "e", lost: "the kernel restarted" }), { kind: "error", text: "the kernel restarted" });
  assert.deepEqual(statusOf({}), { kind: "", text: "" });
});

test("showStatus writes the line and the root's data-error / data-status hooks", () => {
  const view = buildStudyView(document.createElement("div"), "vw-x", "vw-x-canvas");
  showStatus(view, { status: "computing CKA: 1 of 2 batches…" });
  assert.equal(view.status.textContent, "computing CKA: 1 of 2 batches…");
  assert.equal(view.root.dataset.status, "computing CKA: 1 of 2 batches…");
  assert.equal(view.root.dataset.error, "");
  showStatus(view, { error: "ValueError: no images" });
  assert.equal(view.status.dataset.kind, "error");
  assert.equal(view.root.dataset.error, "ValueError: no images");
  assert.equal(view.root.dataset.status, "");
  assert.ok(view.root.classList.contains("vw-study") && view.root.classList.contains("vw-x"));
  assert.ok(view.canvas.classList.contains("vw-x-canvas"));
});

test("whenReady waits for data-ready and says what is missing when it gives up", async () => {
  const root = document.createElement("div");
  root.dataset.status = "computing CKA: 1 of 4 batches…";
  await assert.rejects(whenReady(root, 60, "the CKA map"), /the CKA map is not computed yet \(computing CKA: 1 of 4 batches…\)/);
  setTimeout(() => { root.dataset.ready = "true"; }, 30);
  await whenReady(root, 1000);
});

test("the kernel's export_png gets a PNG of the view's canvas at the scale asked", async () => {
  const model = new FakeModel({});
  model.sentBuffers = [];
  model.send = (msg, _cb, buffers) => { model.sent.push(msg); model.sentBuffers.push(buffers); };
  const rpc = createRpc(model);
  const view = buildStudyView(document.createElement("div"), "vw-x", "c");
  view.root.dataset.ready = "true";
  bindStudyExport(view, rpc, { what: "x", name: () => "x.png", png: (scale) => {
    const c = document.createElement("canvas");
    c.width = 10 * scale;
    c.height = 4 * scale;
    c.toBlob = (cb, type) => cb(new NodeBlob([PNG_BYTES], { type })); // jsdom has no toBlob
    return c;
  } });
  model.emit("msg:custom", { kind: "request", id: "k-1", method: "export_png", params: { scale: 3, wait_ms: 100 } }, []);
  for (let i = 0; i < 100 && !model.sent.length; i++) await tick(5);
  const reply = model.sent[0];
  assert.equal(reply.ok, true, reply.error);
  assert.deepEqual(reply.result, { width: 30, height: 12, name: "x.png" });
  assert.deepEqual([...model.sentBuffers[0][0]], [...PNG_BYTES]);
  rpc.dispose();
});

test("watchTheme calls back once the view's root is put on the page (it painted detached)", async () => {
  const root = document.createElement("div");
  let calls = 0;
  const stop = watchTheme(document, () => { calls += 1; }, root);
  await tick(40);
  assert.equal(calls, 0, "not on the page yet");
  document.body.appendChild(root);
  for (let i = 0; i < 50 && calls === 0; i += 1) await tick(20);
  assert.equal(calls, 1);
  stop();
  root.remove();
});

test("watchTheme calls back when JupyterLab flips its theme attribute; sizeCanvas sets both sizes", async () => {
  let calls = 0;
  const stop = watchTheme(document, () => { calls += 1; });
  document.body.dataset.jpThemeLight = "false";
  await tick(5);
  assert.ok(calls >= 1);
  stop();
  const c = document.createElement("canvas");
  sizeCanvas(c, 120, 80);
  assert.deepEqual([c.width, c.height, c.style.width, c.style.height], [120, 80, "120px", "80px"]);
});
