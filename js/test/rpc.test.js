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

/** A FakeModel whose send throws as a disposed comm does after a kernel restart. */
function deadCommModel() {
  const model = new FakeModel({});
  model.send = () => { throw new Error("Cannot send"); };
  return model;
}

test("a send that throws (a dead comm) rejects the request as disconnected instead of throwing", async () => {
  const told = [];
  const rpc = createRpc(deadCommModel(), { timeoutMs: 60000, onDisconnect: (e) => told.push(e) });
  const { promise } = rpc.request("layer_data", {});
  await assert.rejects(promise, (e) => e instanceof RpcError && e.disconnected && /re-run this cell/.test(e.message));
  assert.equal(rpc.pendingCount, 0, "no timer left waiting 60 s");
  assert.equal(told.length, 1);
  assert.match(rpc.disconnected, /cannot reach the kernel/);
  rpc.dispose();
});

test("the kernel restarting (comm_live_update) rejects every pending request at once and says so once", async () => {
  const model = new FakeModel({});
  const told = [];
  const rpc = createRpc(model, { timeoutMs: 60000, onDisconnect: (e) => told.push(e.message) });
  const a = rpc.request("rows", {}).promise;
  const b = rpc.request("layer_data", {}).promise;
  model.emit("comm_live_update");
  model.emit("comm_live_update");
  for (const p of [a, b]) {
    await assert.rejects(p, (e) => e.disconnected && e.message === "the kernel restarted: re-run this cell to use this widget again");
  }
  assert.deepEqual(told, ["the kernel restarted: re-run this cell to use this widget again"]);
  assert.equal(rpc.pendingCount, 0);
  rpc.dispose();
});

test("after a restart requests reject at once without sending", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model, { timeoutMs: 60000 });
  model.emit("comm_live_update");
  const t0 = Date.now();
  await assert.rejects(rpc.request("set", { tag: "x" }).promise, (e) => e.disconnected && !e.timedOut && !e.cancelled);
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(model.sent, [], "nothing goes to a dead comm");
  rpc.dispose();
  assert.equal(model.handlers.get("comm_live_update").size, 0, "dispose stops listening");
});

test("a timeout says the kernel may be busy or restarted and what to do", async () => {
  const rpc = createRpc(new FakeModel({}), { timeoutMs: 10 });
  await assert.rejects(rpc.request("x").promise, (e) => e.timedOut && !e.disconnected && /busy, or it restarted \(then re-run this cell\)/.test(e.message));
  rpc.dispose();
});

/** A FakeModel that records the buffers sent with each message. */
function recordingModel() {
  const model = new FakeModel({});
  model.sentBuffers = [];
  model.send = (msg, _callbacks, buffers) => { model.sent.push(msg); model.sentBuffers.push(buffers ?? []); };
  return model;
}

test("serve answers the kernel's request with the handler's result and buffers under the request's id", async () => {
  const model = recordingModel();
  const rpc = createRpc(model);
  const png = new Uint8Array([137, 80, 78, 71]);
  rpc.serve("export_png", async (params) => ({ result: { width: 3, scale: params.scale }, buffers: [png] }));
  model.emit("msg:custom", { kind: "request", id: "k-1", method: "export_png", params: { scale: 2 } }, []);
  await tick(5);
  assert.deepEqual(model.sent, [{ kind: "reply", id: "k-1", ok: true, result: { width: 3, scale: 2 } }]);
  assert.deepEqual(model.sentBuffers, [[png]]);
  rpc.dispose();
});

test("serve turns a handler's failure and an unknown method into error replies", async () => {
  const model = recordingModel();
  const rpc = createRpc(model);
  rpc.serve("export_png", () => { throw new Error("nothing painted yet"); });
  model.emit("msg:custom", { kind: "request", id: "k-1", method: "export_png", params: {} }, []);
  model.emit("msg:custom", { kind: "request", id: "k-2", method: "nope", params: {} }, []);
  await tick(5);
  const byId = Object.fromEntries(model.sent.map((m) => [m.id, m]));
  assert.deepEqual(byId["k-1"], { kind: "reply", id: "k-1", ok: false, error: "nothing painted yet" });
  assert.equal(byId["k-2"].ok, false);
  assert.match(byId["k-2"].error, /unknown request "nope"; the frontend answers: export_png/);
  rpc.dispose();
});

test("serve answers a request the kernel resends while its answer is on the way once", async () => {
  const model = recordingModel();
  const rpc = createRpc(model);
  let calls = 0;
  rpc.serve("export_png", async () => { calls += 1; await tick(20); return { result: {}, buffers: [] }; });
  const request = { kind: "request", id: "k-9", method: "export_png", params: {} };
  model.emit("msg:custom", request, []);
  await tick(5);
  model.emit("msg:custom", request, []); // resent: the kernel had heard nothing yet
  await tick(40);
  assert.equal(calls, 1);
  assert.deepEqual(model.sent.map((m) => m.id), ["k-9"]);
  rpc.dispose();
});
