import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeModel, tick } from "./helpers.js";
import { createRpc, RpcError } from "../src/rpc.js";

const reply = (model, id, extra) => model.emit("msg:custom", { kind: "reply", id, ...extra }, ["b0"]);

test("a request resolves with the kernel's result and buffers", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model, { timeoutMs: 1000 });
  const { id, promise } = rpc.request("layer_data", { image: 0 });
  assert.deepEqual(model.sent, [{ kind: "request", id, method: "layer_data", params: { image: 0 } }]);
  assert.equal(rpc.pendingCount, 1);
  reply(model, id, { ok: true, result: { a: 1 } });
  assert.deepEqual(await promise, { result: { a: 1 }, buffers: ["b0"] });
  assert.equal(rpc.pendingCount, 0);
  rpc.dispose();
});

test("an error reply rejects with its message", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model);
  const { id, promise } = rpc.request("set");
  reply(model, id, { ok: false, error: "ValueError: no" });
  await assert.rejects(promise, (e) => e instanceof RpcError && e.message === "ValueError: no" && !e.cancelled);
  rpc.dispose();
});

test("cancel is local: the promise rejects as cancelled, nothing is sent, a late reply is ignored", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model, { timeoutMs: 1000 });
  const { id, promise } = rpc.request("layer_data", {});
  assert.equal(rpc.cancel(id), true);
  await assert.rejects(promise, (e) => e instanceof RpcError && e.cancelled && e.message === "cancelled");
  assert.deepEqual(model.sent.map((m) => m.kind), ["request"], "no cancel message goes to the kernel");
  reply(model, id, { ok: true, result: {} }); // the kernel still answers; nothing happens
  assert.equal(rpc.cancel(id), false, "already settled");
  assert.equal(rpc.pendingCount, 0);
  rpc.dispose();
});

test("no reply times out; dispose rejects what is pending and stops listening", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model, { timeoutMs: 20 });
  await assert.rejects(rpc.request("x").promise, (e) => e.timedOut && /no reply from the kernel after 0 s/.test(e.message));
  const late = rpc.request("y").promise;
  rpc.dispose();
  await assert.rejects(late, (e) => e.cancelled && e.message === "view closed");
  assert.equal(model.handlers.get("msg:custom").size, 0);
  await tick(30);
});

test("replies to other views' requests are ignored", () => {
  const model = new FakeModel({});
  const a = createRpc(model);
  const b = createRpc(model);
  const ra = a.request("x");
  const rb = b.request("x");
  ra.promise.catch(() => {});
  rb.promise.catch(() => {});
  assert.notEqual(ra.id.split("-")[0], rb.id.split("-")[0]);
  reply(model, "someone-else-1", { ok: true, result: {} });
  reply(model, rb.id, { ok: true, result: {} });
  assert.deepEqual([a.pendingCount, b.pendingCount], [1, 0]);
  a.dispose();
  b.dispose();
});
