// The ConceptMap in jsdom: the bars and the selected block's unit list from `_labels`, a click on
// a bar setting `layer`, a click on a unit setting `unit` and asking the kernel for its maps
// (latest click wins), the maps drawn from the reply, the filter, and errors in the status line.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, until, CONCEPT_LABELS as LABELS } from "./helpers.js";
import { encodeFloat16 } from "../src/float16.js";
import widget from "../src/concepts/index.js";
import { barsLayout } from "../src/concepts/paint.js";


before(() => {
  installDom();
  let n = 0;
  globalThis.URL.createObjectURL = () => `blob:${++n}`;
  globalThis.URL.revokeObjectURL = () => {};
  globalThis.Image = window.Image;
});

function mount(extra = {}) {
  const model = new FakeModel({
    model_name: "toy", num_layers: 6, num_images: 12, iou_threshold: 0.04, categories: ["colour", "texture", "class"], _labels: LABELS,
    layer: 3, unit: -1, category: "", colormap: "gray", request_timeout_ms: 5000, status: "", error: "", done: true, ...extra,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, root: el.querySelector(".vw-concepts"), canvas: el.querySelector("canvas.vw-concepts-canvas"), cleanup };
}

function click(el, x = 0, y = 0) {
  el.dispatchEvent(new window.MouseEvent("click", { clientX: x, clientY: y, bubbles: true }));
}

/** Answer every unit_maps request with 1 x 2 x 2 maps whose cell (row 1, col 0) is brightest. */
function kernel(model, { hold = false } = {}) {
  const asked = [];
  model.onSend = (msg) => {
    if (msg.kind !== "request") return;
    asked.push(msg);
    if (hold) return;
    answer(model, msg);
  };
  return asked;
}

function answer(model, msg) {
  const { layer, unit } = msg.params;
  const result = { layer, unit, images: [4], peaks: [3], threshold: 2.5, concept: 1, top_concepts: [[1, 0.2], [0, 0.01]], arrays: [{ name: "maps", shape: [1, 2, 2], dtype: "float16" }] };
  model.emit("msg:custom", { kind: "reply", id: msg.id, ok: true, result }, [new DataView(encodeFloat16([0, 1, 3, 2]).buffer), new DataView(new ArrayBuffer(4))]);
}

test("the labelled blocks' bars are drawn and the selected block's units listed, highest IoU first", () => {
  const { root, el, cleanup } = mount();
  assert.equal(root.dataset.ready, "true");
  assert.equal(root.dataset.blocks, "3,5");
  assert.equal(root.dataset.unitsShown, "3");
  assert.deepEqual([...el.querySelectorAll(".vw-concepts-row")].map((r) => [r.dataset.unit, r.dataset.concept]), [["2", "stripes"], ["0", "red"], ["3", "red"]]);
  assert.match(el.querySelector(".vw-readout").textContent, /^block 3: 3 of 4 units labelled, 2 distinct concepts/);
  assert.deepEqual([...el.querySelectorAll(".vw-concepts-filter option")].map((o) => o.value), ["", "colour", "texture", "class"]);
  cleanup();
});

test("hovering a bar reads its block, a click sets layer; the filter sets category and narrows the list", () => {
  const { model, root, el, canvas, cleanup } = mount();
  const L = barsLayout(2);
  const first = el.querySelector(".vw-concepts-row");
  canvas.dispatchEvent(new window.MouseEvent("mousemove", { clientX: L.frame.x + 1.5 * L.step, clientY: L.frame.y + 20, bubbles: true }));
  assert.equal(root.dataset.hoverBlock, "5");
  assert.match(el.querySelector(".vw-readout").textContent, /^block 5: 1 of 4 units labelled/);
  assert.equal(el.querySelector(".vw-concepts-row"), first, "a hover leaves the list as it is");
  click(canvas, L.frame.x + 1.5 * L.step, L.frame.y + 20);
  assert.equal(model.get("layer"), 5);
  assert.equal(root.dataset.unitsShown, "1");
  model.set("layer", 3);
  const filter = el.querySelector(".vw-concepts-filter");
  filter.value = "colour";
  filter.dispatchEvent(new window.Event("change"));
  assert.equal(model.get("category"), "colour");
  assert.deepEqual([...el.querySelectorAll(".vw-concepts-row")].map((r) => r.dataset.unit), ["0", "3"]);
  model.set("layer", 4);
  assert.match(el.querySelector(".vw-concepts-empty").textContent, /block 4 was not labelled/);
  cleanup();
});

test("a click on a unit asks the kernel for its maps and draws them with their brightest cell", async () => {
  const { model, root, el, cleanup } = mount();
  const asked = kernel(model);
  click(el.querySelector('.vw-concepts-row[data-unit="2"]'));
  assert.equal(model.get("unit"), 2);
  assert.deepEqual(asked.map((m) => [m.method, m.params]), [["unit_maps", { layer: 3, unit: 2 }]]);
  await until(() => root.dataset.mapsUnit === "3:2", "the maps");
  assert.equal(root.dataset.mapsImages, "4");
  assert.equal(root.dataset.brightest, "[[1,0]]");
  assert.match(el.querySelector(".vw-concepts-unit-text").textContent, /^unit 2 of block 3: stripes \(texture\) · best IoUs: stripes 0\.200, red 0\.010$/);
  assert.equal(el.querySelector('.vw-concepts-row[data-unit="2"]').dataset.selected, "true");
  model.set("unit", 0);
  model.set("unit", 2); // cached: nothing more is asked
  assert.equal(asked.length, 2);
  cleanup();
});

test("clicks while the kernel works ask once more, for the last unit only", async () => {
  const { model, root, el, cleanup } = mount();
  const asked = kernel(model, { hold: true });
  for (const u of ["2", "0", "3"]) click(el.querySelector(`.vw-concepts-row[data-unit="${u}"]`));
  assert.equal(asked.length, 1);
  answer(model, asked[0]);
  await until(() => asked.length === 2, "the second request");
  assert.deepEqual(asked[1].params, { layer: 3, unit: 3 });
  answer(model, asked[1]);
  await until(() => root.dataset.mapsUnit === "3:3", "the last unit's maps");
  cleanup();
});

test("the kernel's progress, its error and a failed request show in the status line", async () => {
  const { model, root, el, cleanup } = mount({ done: false, _labels: {}, status: "computing unit labels: 1 of 4 batches…" });
  assert.equal(root.dataset.ready, "false");
  assert.equal(root.dataset.status, "computing unit labels: 1 of 4 batches…");
  assert.match(el.querySelector(".vw-concepts-empty").textContent, /labelling the units/);
  model.set("status", "");
  model.set("error", "ValueError: label_units needs concept masks in every batch");
  assert.equal(root.dataset.error, "ValueError: label_units needs concept masks in every batch");
  model.set("error", "");
  model.set("_labels", LABELS);
  model.set("done", true);
  model.onSend = (msg) => model.emit("msg:custom", { kind: "reply", id: msg.id, ok: false, error: "UserValueError: block 3 was not labelled" }, []);
  model.set("unit", 1);
  await until(() => root.dataset.error === "UserValueError: block 3 was not labelled", "the error");
  cleanup();
});

test("the PNG holds the bars and, with a unit shown, its maps under a line naming it", async () => {
  const { Blob: NodeBlob } = await import("node:buffer");
  const proto = window.HTMLCanvasElement.prototype;
  const had = proto.toBlob;
  proto.toBlob = function toBlob(cb, type) { cb(new NodeBlob([new Uint8Array([137, 80])], { type })); }; // jsdom has no toBlob
  const { model, root, el, cleanup } = mount();
  const sent = [];
  model.send = (msg) => { sent.push(msg); if (msg.kind === "request") answer(model, msg); };
  const exportOnce = async (id) => {
    model.emit("msg:custom", { kind: "request", id, method: "export_png", params: { scale: 1 } }, []);
    await until(() => sent.some((m) => m.kind === "reply" && m.id === id), "the PNG reply");
    return sent.find((m) => m.id === id).result;
  };
  try {
    const bars = barsLayout(2);
    const plain = await exportOnce("k-1");
    assert.equal(plain.height, bars.height + 24, "a title line over the bars");
    click(el.querySelector('.vw-concepts-row[data-unit="2"]'));
    await until(() => root.dataset.mapsUnit === "3:2", "the maps");
    const withMaps = await exportOnce("k-2");
    assert.equal(withMaps.height, bars.height + 24 + 128 + 16 + 28, "the maps (tile 128 px, caption 16 px) under a 28 px line");
    assert.equal(withMaps.name, "vitwidgets-concepts-toy.png");
  } finally {
    proto.toBlob = had;
    cleanup();
  }
});
