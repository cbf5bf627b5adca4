import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom } from "./helpers.js";
import { buildView, showStatus, renderFilter, bindToolbar } from "../src/annotator/view.js";

before(() => installDom());

const mount = () => buildView(document.body.appendChild(document.createElement("div")));

test("the DOM contract: toolbar, table and status", () => {
  const v = mount();
  for (const sel of [".vw-annotator", ".vw-ann-toolbar", "select.vw-filter", "button.vw-accept-shown", "input.vw-new-tag",
    "button.vw-add-tag", ".vw-count", ".vw-ann-scroll table thead", "tbody", ".vw-ann-status"]) {
    assert.ok(v.root.matches(sel) || v.root.querySelector(sel), sel);
  }
  assert.deepEqual([...v.root.querySelectorAll("th")].map((th) => th.textContent), ["layer", "head", "proposed (evidence)", "", "your tag", "note"]);
  assert.equal(v.root.dataset.lmSuppressShortcuts, "true");
});

test("status and filter", () => {
  const v = mount();
  showStatus(v, "error", "<b>disk full</b>");
  assert.deepEqual([v.status.dataset.kind, v.status.textContent, v.root.dataset.error], ["error", "<b>disk full</b>", "<b>disk full</b>"]);
  showStatus(v, "info", "saved");
  assert.equal(v.root.dataset.error, "");
  renderFilter(v, ["local", "<i>x</i>"], "<i>x</i>");
  assert.deepEqual([...v.filterSelect.options].map((o) => o.textContent), ["all heads", "untagged (by you)", "local", "<i>x</i>"]);
  assert.equal(v.filterSelect.value, "<i>x</i>");
  assert.equal(v.root.querySelector("i"), null);
});

test("toolbar events: filter, accept shown, add a trimmed tag", async () => {
  const v = mount();
  const calls = [];
  bindToolbar(v, {
    filter: (value) => calls.push(["filter", value]),
    acceptShown: () => calls.push(["acceptShown"]),
    addTag: (tag) => { calls.push(["addTag", tag]); return Promise.resolve(); },
  });
  renderFilter(v, ["local"], "");
  v.filterSelect.value = "local";
  v.filterSelect.dispatchEvent(new window.Event("change"));
  v.acceptShown.click();
  v.newTagInput.value = "   ";
  v.addTag.click();
  v.newTagInput.value = " new tag ";
  v.newTagInput.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Enter" }));
  await Promise.resolve();
  assert.deepEqual(calls, [["filter", "local"], ["acceptShown"], ["addTag", "new tag"]]);
  assert.equal(v.newTagInput.value, "", "cleared once saved");
});
