import { test, before } from "node:test";
import assert from "node:assert/strict";
import { installDom } from "./helpers.js";
import { h, ensureStyle, bytesToBlob, optionElements, setOptions, onEnter } from "../src/dom.js";

before(() => installDom());

test("h sets properties, dataset, attributes, listeners and text children", () => {
  let clicked = 0;
  const el = h("div", { className: "vw-x", title: "t", dataset: { head: "2" }, role: "group", onclick: () => { clicked += 1; }, hidden: undefined },
    "a<b>", 3, null, false, h("span", { textContent: "<i>" }));
  assert.equal(el.className, "vw-x");
  assert.equal(el.dataset.head, "2");
  assert.equal(el.getAttribute("role"), "group");
  assert.equal(el.textContent, "a<b>3<i>");
  assert.equal(el.querySelectorAll("b, i").length, 0, "text is never parsed as HTML");
  el.click();
  assert.equal(clicked, 1);
});

test("ensureStyle adds one <style> per id", () => {
  ensureStyle("vw-test-style", ".a {}");
  ensureStyle("vw-test-style", ".b {}");
  const styles = document.querySelectorAll("#vw-test-style");
  assert.equal(styles.length, 1);
  assert.equal(styles[0].textContent, ".a {}");
});

test("ensureStyle inside an element adds one <style> there, so a shadow root gets the rules", () => {
  const host = document.body.appendChild(document.createElement("div"));
  const shadow = host.attachShadow({ mode: "open" });
  const el = shadow.appendChild(document.createElement("div"));
  el.appendChild(document.createElement("span"));
  ensureStyle("vw-inner-style", ".a {}", el);
  ensureStyle("vw-inner-style", ".b {}", el);
  const styles = el.querySelectorAll("style");
  assert.equal(styles.length, 1);
  assert.equal(styles[0].textContent, ".a {}");
  assert.equal(el.firstChild, styles[0], "before the widget's own elements");
  assert.equal(document.head.querySelector("[data-vw-style]"), null, "nothing in the document's head");
});

test("options are built from pairs and replaced only when they differ", () => {
  const select = h("select");
  setOptions(select, [["", "—"], ["<b>", "<b>"]]);
  assert.deepEqual([...select.options].map((o) => [o.value, o.textContent]), [["", "—"], ["<b>", "<b>"]]);
  const first = select.options[0];
  setOptions(select, [["", "—"], ["<b>", "<b>"]]);
  assert.equal(select.options[0], first, "same options kept");
  setOptions(select, [["x", "y"]]);
  assert.equal(select.options.length, 1);
  assert.equal(optionElements([["v", "t"]])[0].outerHTML, '<option value="v">t</option>');
});

test("bytesToBlob keeps the view's bytes; onEnter stops key propagation", async () => {
  const buffer = new Uint8Array([9, 1, 2, 3, 9]).buffer;
  const blob = bytesToBlob(new DataView(buffer, 1, 3), "image/png");
  assert.equal(blob.type, "image/png");
  assert.equal(blob.size, 3);
  const parent = h("div");
  const input = h("input");
  parent.appendChild(input);
  let bubbled = 0;
  let entered = 0;
  parent.addEventListener("keydown", () => { bubbled += 1; });
  onEnter(input, () => { entered += 1; });
  input.dispatchEvent(new window.KeyboardEvent("keydown", { key: "a", bubbles: true }));
  input.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  assert.deepEqual([bubbled, entered], [0, 1]);
});
