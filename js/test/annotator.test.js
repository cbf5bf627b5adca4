// The annotator's render() in jsdom: user text stays text, edits become requests, rows select heads.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, until } from "./helpers.js";

let annotator;
before(async () => {
  installDom();
  annotator = (await import("../src/annotator/index.js")).default;
});

const XSS = '<img src=x onerror="globalThis.pwned = 1">';

function makeModel() {
  const rows = [];
  for (let layer = 0; layer < 2; layer++) {
    for (let head = 0; head < 3; head++) {
      rows.push({ layer, head, proposed: head === 1 ? "offset-local ←" : "global", rule: "r", evidence: "local mass 0.9" });
    }
  }
  const model = new FakeModel({
    rows, tags: ["local", "offset-local ←", "global", XSS],
    annotations: { "1:2": { tag: XSS, note: XSS, source: "user", updated_at: "" } },
    layer: 0, head: 0, filter_tag: "", status: "0 heads annotated", status_kind: "info",
  });
  model.onSend = (msg) => {
    if (msg.kind !== "request") return;
    setTimeout(() => {
      if (msg.method === "set" && msg.params.tag === "global") {
        model.emit("msg:custom", { kind: "reply", id: msg.id, ok: false, error: "AnnotationFileError: disk full" });
        return;
      }
      model.emit("msg:custom", { kind: "reply", id: msg.id, ok: true, result: { status: "saved" } });
    }, 1);
  };
  return model;
}

test("user text is shown literally, never parsed as HTML", () => {
  const model = makeModel();
  const el = document.createElement("div");
  document.body.appendChild(el);
  annotator.render({ model, el });
  assert.equal(el.querySelectorAll("img").length, 0);
  const row = el.querySelector('tr.vw-row[data-layer="1"][data-head="2"]');
  assert.equal(row.querySelector("input.vw-note").value, XSS);
  assert.equal(row.querySelector("select.vw-tag").value, XSS);
  assert.ok([...el.querySelectorAll("option")].some((o) => o.textContent === XSS));
  assert.equal(globalThis.pwned, undefined);
});

test("row click selects the head; filter hides rows; edits are sent and errors shown", async () => {
  const model = makeModel();
  const el = document.createElement("div");
  document.body.appendChild(el);
  annotator.render({ model, el });
  const root = el.querySelector(".vw-annotator");
  const row = el.querySelector('tr.vw-row[data-layer="1"][data-head="1"]');
  row.querySelector("td").dispatchEvent(new window.MouseEvent("click", { bubbles: true }));
  assert.deepEqual([model.get("layer"), model.get("head")], [1, 1]);
  assert.equal(row.dataset.selected, "true");

  model.set("filter_tag", "offset-local ←");
  const visible = [...el.querySelectorAll("tr.vw-row")].filter((r) => r.dataset.visible === "true");
  assert.deepEqual(visible.map((r) => `${r.dataset.layer}:${r.dataset.head}`), ["0:1", "1:1"]);
  assert.equal(root.dataset.shown, "2");

  const note = row.querySelector("input.vw-note");
  note.value = "looks left";
  note.dispatchEvent(new window.Event("change"));
  const sent = model.sent.filter((m) => m.kind === "request");
  assert.deepEqual(sent.at(-1).params, { layer: 1, head: 1, note: "looks left" });
  assert.equal(sent.at(-1).method, "set");

  row.querySelector("button.vw-accept").click();
  assert.deepEqual(model.sent.at(-1).params, { heads: [[1, 1]], overwrite: true });

  const select = row.querySelector("select.vw-tag");
  select.value = "global";
  select.dispatchEvent(new window.Event("change"));
  await until(() => root.dataset.error, "error shown");
  assert.match(el.querySelector(".vw-ann-status").textContent, /disk full/);
});

test("a tag that did not save goes back to the saved one with the reason in the status line", async () => {
  const model = makeModel();
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = annotator.render({ model, el });
  const root = el.querySelector(".vw-annotator");
  const row = el.querySelector('tr.vw-row[data-layer="0"][data-head="1"]');
  const select = row.querySelector("select.vw-tag");
  select.value = "global"; // the fake kernel fails to save "global"
  select.dispatchEvent(new window.Event("change"));
  await until(() => root.dataset.error, "error shown");
  assert.equal(select.value, "", "back to the saved value (none)");
  assert.match(root.dataset.error, /your tag "global" for layer 0 head 1 was not saved: AnnotationFileError: disk full/);
  cleanup();
});

test("after a kernel restart the status line says so at once and a chosen tag reverts", async () => {
  const model = makeModel();
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = annotator.render({ model, el });
  const root = el.querySelector(".vw-annotator");
  model.emit("comm_live_update"); // what ipywidgets' manager does to every model when the kernel restarts
  assert.equal(root.dataset.disconnected, "true");
  assert.match(el.querySelector(".vw-ann-status").textContent, /the kernel restarted: re-run this cell/);
  const select = el.querySelector('tr.vw-row[data-layer="1"][data-head="2"] select.vw-tag');
  select.value = "local";
  select.dispatchEvent(new window.Event("change"));
  await until(() => /was not saved/.test(root.dataset.error), "unsaved edit shown");
  assert.equal(select.value, XSS, "back to the saved tag");
  assert.deepEqual(model.sent.filter((m) => m.kind === "request"), [], "nothing sent to the dead comm");
  cleanup();
});
