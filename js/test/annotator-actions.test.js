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
