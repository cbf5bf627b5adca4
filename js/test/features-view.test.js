import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom, FakeModel, COLORMAPS } from "./helpers.js";
import { buildView, buildCells, bindControls, renderChoices, syncControls } from "../src/features/view.js";

before(() => installDom());

function model() {
  return new FakeModel({ num_layers: 12, layer: 4, facet: "keys", k: 3, panel: "clusters", colormap: "magma",
    _facets: [{ id: "tokens", label: "tokens", title: "" }, { id: "keys", label: "keys", title: "" }],
    _panels: [{ id: "pca", label: "PCA", title: "t1" }, { id: "clusters", label: "clusters", title: "t2" }], _colormaps: COLORMAPS });
}

test("the controls show the traits and the root carries them as data-*", () => {
  const m = model();
  const v = buildView(document.createElement("div"));
  renderChoices(v, m);
  syncControls(v, m);
  assert.equal(v.layerSlider.max, "11");
  assert.equal(v.layerValue.textContent, "4 / 11");
  assert.equal(v.facetSelect.value, "keys");
  assert.equal(v.cmapSelect.value, "magma");
  assert.equal(v.kInput.value, "3");
  assert.deepEqual([...v.panelBar.children].map((b) => b.getAttribute("aria-pressed")), ["false", "true"]);
  const { layer, facet, k, panel } = v.root.dataset;
  assert.deepEqual({ layer, facet, k, panel }, { layer: "4", facet: "keys", k: "3", panel: "clusters" });
});

test("controls write their traits; k outside 2..16 is put back", () => {
  const m = model();
  const v = buildView(document.createElement("div"));
  renderChoices(v, m);
  bindControls(v, m);
  v.facetSelect.value = "tokens";
  v.facetSelect.dispatchEvent(new window.Event("change"));
  v.panelBar.children[0].click();
  v.kInput.value = "40";
  v.kInput.dispatchEvent(new window.Event("change"));
  assert.equal(m.get("facet"), "tokens");
  assert.equal(m.get("panel"), "pca");
  assert.equal(m.get("k"), 3);
  assert.equal(v.kInput.value, "3");
});

test("one cell per image, each with its map, panel and label", () => {
  const v = buildView(document.createElement("div"));
  const cells = buildCells(v, 3);
  assert.equal(v.images.children.length, 3);
  assert.deepEqual(cells.map((c) => c.cell.dataset.image), ["0", "1", "2"]);
  assert.equal(cells[2].label.textContent, "image 2");
  assert.ok(cells[0].canvas.classList.contains("vw-fx-map") && cells[0].panel.classList.contains("vw-fx-panel"));
});
