import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, tick } from "./helpers.js";
import { createRpc } from "../src/rpc.js";
import { createActions } from "../src/annotator/actions.js";

function setup(replyWith) {
  const model = new FakeModel({ layer: 0, head: 0, filter_tag: "", status: "from the model", annotations: { "1:2": { note: "kept" } } });
  model.onSend = (msg) => setTimeout(() => model.emit("msg:custom", { kind: "reply", id: msg.id, ...replyWith(msg) }), 1);
  const statuses = [];
  const rpc = createRpc(model, { timeoutMs: 1000 });
  return { model, statuses, rpc, actions: createActions(rpc, model, (kind, text) => statuses.push([kind, text])) };
}

test("requests and their params", async () => {
  const { model, statuses, rpc, actions } = setup(() => ({ ok: true, result: { status: "saved" } }));
  const p = { layer: 1, head: 2, proposed: "local" };
  actions.setTag(p, "global");
  actions.setNote(p, "note");
  actions.accept([[1, 2], [0, 0]], false);
  await actions.addTag("new");
  assert.deepEqual(model.sent.map((m) => [m.method, m.params]), [
    ["set", { layer: 1, head: 2, tag: "global" }],
    ["set", { layer: 1, head: 2, note: "note" }],
    ["accept", { heads: [[1, 2], [0, 0]], overwrite: false }],
    ["add_tag", { tag: "new" }],
  ]);
  await tick(5);
  assert.deepEqual(statuses, [["info", "saved"], ["info", "saved"], ["info", "saved"], ["info", "saved"]]);
  assert.equal(actions.savedNote(p), "kept");
  assert.equal(actions.savedNote({ layer: 0, head: 0 }), "");
  rpc.dispose();
});

test("a reply without status shows the model's; an error reply shows its message and rejects addTag", async () => {
  const { statuses, rpc, actions } = setup((msg) => (msg.method === "add_tag" ? { ok: false, error: "ValueError: taken" } : { ok: true, result: {} }));
  await actions.accept([[0, 0]], true);
  await assert.rejects(actions.addTag("x"), /taken/);
  await actions.setTag({ layer: 0, head: 0 }, "y");
  assert.deepEqual(statuses, [["info", "from the model"], ["error", "ValueError: taken"], ["info", "from the model"]]);
  rpc.dispose();
});

test("selecting a head sets layer then head and saves once; the filter is a trait", () => {
  const { model, rpc, actions } = setup(() => ({ ok: true, result: {} }));
  actions.select({ layer: 1, head: 1 });
  assert.deepEqual([model.get("layer"), model.get("head"), model.saves], [1, 1, 1]);
  actions.select({ layer: 1, head: 1 });
  assert.equal(model.saves, 1, "already selected");
  actions.setFilter("local");
  assert.deepEqual([model.get("filter_tag"), model.saves], ["local", 2]);
  rpc.dispose();
});

test("an edit that fails says what was not saved and why, and reverts the table; a note's text is quoted", async () => {
  const { statuses, rpc } = setup(() => ({ ok: false, error: "AnnotationFileError: disk full" }));
  let reverts = 0;
  const withRevert = createActions(rpc, new FakeModel({}), (kind, text) => statuses.push([kind, text]), { revert: () => { reverts += 1; } });
  await withRevert.setTag({ layer: 1, head: 2 }, "global");
  await withRevert.setNote({ layer: 1, head: 2 }, "looks left");
  assert.equal(reverts, 2);
  assert.deepEqual(statuses, [
    ["error", 'your tag "global" for layer 1 head 2 was not saved: AnnotationFileError: disk full. The table shows what is saved.'],
    ["error", 'your note "looks left" for layer 1 head 2 was not saved: AnnotationFileError: disk full. The table shows what is saved.'],
  ]);
  rpc.dispose();
});

test("after a kernel restart an edit fails at once with the restart message and reverts", async () => {
  const model = new FakeModel({ annotations: {} });
  const statuses = [];
  let reverts = 0;
  const rpc = createRpc(model, { timeoutMs: 60000 });
  const actions = createActions(rpc, model, (kind, text) => statuses.push([kind, text]), { revert: () => { reverts += 1; } });
  model.emit("comm_live_update");
  const t0 = Date.now();
  await actions.setTag({ layer: 0, head: 1 }, "local");
  assert.ok(Date.now() - t0 < 1000, "no waiting for a timeout");
  assert.equal(reverts, 1);
  assert.deepEqual(model.sent, []);
  assert.match(statuses[0][1], /^your tag "local" for layer 0 head 1 was not saved: the kernel restarted: re-run this cell/);
  rpc.dispose();
});
