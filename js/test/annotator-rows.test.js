import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, tick } from "./helpers.js";
import { buildRow, buildRows, refreshRow, refreshTable, shownHeads, scrollToSelected, scrollTopFor, NOTE_DEBOUNCE_MS } from "../src/annotator/rows.js";
import { buildView } from "../src/annotator/view.js";

before(() => installDom());

function recorder(saved = "") {
  const calls = [];
  return {
    calls,
    select: (p) => calls.push(["select", p.layer, p.head]),
    setTag: (p, tag) => calls.push(["tag", tag]),
    setNote: (p, note) => calls.push(["note", note]),
    savedNote: () => saved,
    accept: (heads, overwrite) => calls.push(["accept", heads, overwrite]),
  };
}

const P = { layer: 2, head: 5, proposed: "offset-local ←", rule: "rule <i>", evidence: "local mass 0.9" };

test("a row's cells, its events and the debounced note", async () => {
  const actions = recorder("saved");
  const r = buildRow(P, actions);
  assert.deepEqual([r.tr.className, r.tr.dataset.layer, r.tr.dataset.head], ["vw-row", "2", "5"]);
  assert.equal(r.tr.querySelector(".vw-proposed-tag").textContent, "offset-local ←");
  assert.equal(r.tr.querySelector(".vw-evidence").textContent, "local mass 0.9");
  assert.equal(r.tr.querySelector(".vw-proposed").title, "offset-local ←\nlocal mass 0.9\nrule: rule <i>",
    "the full proposal, evidence and rule, also when the cell cuts them");
  assert.equal(r.accept.disabled, false);
  assert.equal(buildRow({ ...P, proposed: "", evidence: "", rule: "" }, actions).accept.disabled, true,
    "nothing to accept while proposals are pending");
  r.tr.querySelector("td").click();
  r.select.click(); // a control: no selection
  r.accept.click();
  r.note.value = "saved";
  r.note.dispatchEvent(new window.Event("change")); // unchanged: nothing sent
  r.note.value = "draft";
  r.note.dispatchEvent(new window.Event("input"));
  assert.deepEqual(actions.calls, [["select", 2, 5], ["accept", [[2, 5]], true]]);
  await tick(NOTE_DEBOUNCE_MS + 50);
  assert.deepEqual(actions.calls.at(-1), ["note", "draft"]);
  r.note.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Enter" }));
  assert.deepEqual(actions.calls.at(-1), ["note", "draft"]);
  assert.equal(actions.calls.length, 4);
});

test("refreshRow shows the annotation and says whether the row is visible", () => {
  const r = buildRow(P, recorder());
  const ctx = { tags: ["local"], filter: "", selected: true, focused: null };
  assert.equal(refreshRow(r, { tag: "mine", note: "n" }, ctx), true);
  assert.deepEqual([...r.select.options].map((o) => o.value), ["", "local", "mine"]);
  assert.deepEqual([r.select.value, r.note.value, r.tr.dataset.tag, r.tr.dataset.selected, r.accept.disabled], ["mine", "n", "mine", "true", false]);
  assert.equal(refreshRow(r, {}, { ...ctx, filter: "offset-local ←", selected: false }), true, "matches by proposal");
  assert.equal(r.accept.disabled, false);
  assert.equal(refreshRow(r, { tag: "offset-local ←" }, { ...ctx, filter: "__untagged__" }), false);
  assert.deepEqual([r.tr.style.display, r.tr.dataset.visible, r.accept.disabled], ["none", "false", true]);
  r.note.value = "typing";
  refreshRow(r, { note: "old" }, { ...ctx, focused: r.note });
  assert.equal(r.note.value, "typing", "a note being edited keeps its text");
});

test("the table: rows by head, count, root attributes, shown heads", () => {
  const view = buildView(document.body.appendChild(document.createElement("div")));
  const proposals = [0, 1, 2].map((head) => ({ layer: 0, head, proposed: head === 1 ? "local" : "global" }));
  const rows = buildRows(view.tbody, proposals, recorder());
  assert.deepEqual([...rows.keys()], ["0:0", "0:1", "0:2"]);
  const model = new FakeModel({ annotations: { "0:2": { tag: "local" } }, filter_tag: "local", layer: 0, head: 2, tags: ["local", "global"] });
  refreshTable(view, rows, model);
  assert.equal(view.countLabel.textContent, "2 of 3 heads shown · 1 annotated");
  const { layer, head, filter, shown } = view.root.dataset;
  assert.deepEqual({ layer, head, filter, shown }, { layer: "0", head: "2", filter: "local", shown: "2" });
  assert.deepEqual(shownHeads(rows), [[0, 1], [0, 2]]);
  assert.equal(rows.get("0:2").tr.dataset.selected, "true");
  // jsdom lays nothing out: give the row and the box their geometry
  const tr = rows.get("0:2").tr;
  tr.getBoundingClientRect = () => ({ top: 600, height: 30 }); // 500 px into the box's content
  const box = { scrollTop: 0, clientHeight: 360, clientTop: 1, getBoundingClientRect: () => ({ top: 99 }) };
  tr.scrollIntoView = () => assert.fail("the page must not scroll, only the table's box");
  scrollToSelected(rows, model, box, 28);
  assert.equal(box.scrollTop, 530 - 360, "scrolled down just enough to show the row");
});

test("scrollTopFor keeps a row in view below the sticky header with the smallest move", () => {
  const box = { scrollTop: 200, height: 300, header: 30 };
  assert.equal(scrollTopFor(box, 260, 290), 200, "in view: no move");
  assert.equal(scrollTopFor(box, 210, 240), 180, "under the header: up so it sits just below it");
  assert.equal(scrollTopFor(box, 520, 550), 250, "below the box: down so its bottom is the box's");
  assert.equal(scrollTopFor(box, 10, 40), 0, "never above the top");
  assert.equal(scrollTopFor({ scrollTop: 0, height: 20, header: 30 }, 100, 160), 70,
    "taller than the box: its top shows below the header");
});

test("the tooltip holds the full evidence sentences while the cell shows the short words", () => {
  const r = buildRow({ ...P, evidence: "5% within 1 patch", evidence_full: "local mass: 5% of the attention falls within 1 patch\noffset: <b>x</b>" }, recorder());
  assert.equal(r.tr.querySelector(".vw-evidence").textContent, "5% within 1 patch");
  assert.equal(r.tr.querySelector(".vw-proposed").title,
    "offset-local ←\nlocal mass: 5% of the attention falls within 1 patch\noffset: <b>x</b>\nrule: rule <i>");
  assert.equal(r.tr.querySelector("b"), null, "text, never HTML");
});

test("a read-only table (the annotation file could not be used) disables every edit control", () => {
  const view = buildView(document.body.appendChild(document.createElement("div")));
  const rows = buildRows(view.tbody, [{ layer: 0, head: 0, proposed: "local" }, { layer: 0, head: 1, proposed: "" }], recorder());
  const model = new FakeModel({ annotations: {}, filter_tag: "", layer: 0, head: 0, tags: ["local"], read_only: true });
  refreshTable(view, rows, model);
  const controls = (r) => [r.select.disabled, r.note.disabled, r.accept.disabled];
  assert.deepEqual([...rows.values()].map(controls), [[true, true, true], [true, true, true]]);
  assert.deepEqual([view.acceptShown.disabled, view.newTagInput.disabled, view.addTag.disabled, view.filterSelect.disabled], [true, true, true, false],
    "the filter still works");
  assert.equal(view.root.dataset.readOnly, "true");
  model.set("read_only", false);
  refreshTable(view, rows, model);
  assert.deepEqual([...rows.values()].map(controls), [[false, false, false], [false, false, true]], "nothing to accept without a proposal");
  assert.deepEqual([view.acceptShown.disabled, view.addTag.disabled, view.root.dataset.readOnly], [false, false, "false"]);
});
