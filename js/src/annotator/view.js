// The annotator's DOM: the toolbar (filter, accept shown, new tag, count), the table head and
// body, and the status line. Class names and data-* attributes here are the contract of the
// real-browser tests (vitwidgets/widgets/TESTING.md). User text goes in with textContent.

import { h, ensureStyle, onEnter, setOptions } from "../dom.js";
import { filterChoices } from "./filter.js";

const CSS = `
.vw-annotator { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); }
.vw-annotator .vw-ann-toolbar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin-bottom: 6px; }
.vw-annotator .vw-ann-scroll { max-height: 360px; overflow-y: auto; border: 1px solid var(--jp-border-color2, #ccc); }
.vw-annotator table { border-collapse: collapse; width: 100%; table-layout: fixed; } /* columns from <col>: nothing pushes the table past its box */
.vw-annotator th { position: sticky; top: 0; background: var(--jp-layout-color2, #eee); text-align: left; padding: 3px 6px; z-index: 1; }
.vw-annotator td { padding: 2px 6px; border-top: 1px solid var(--jp-border-color3, #eee); vertical-align: middle; overflow: hidden; }
.vw-annotator tr.vw-row { cursor: pointer; }
.vw-annotator tr.vw-row:hover { background: rgba(52, 101, 164, 0.08); }
.vw-annotator tr.vw-row[data-selected="true"] { background: rgba(240, 160, 32, 0.25); }
.vw-annotator .vw-evidence { color: var(--jp-ui-font-color2, #666); font-size: 11px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.vw-annotator .vw-proposed-tag { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.vw-annotator select.vw-tag { width: 100%; box-sizing: border-box; text-overflow: ellipsis; }
.vw-annotator select.vw-filter { max-width: 16em; text-overflow: ellipsis; }
.vw-annotator input.vw-note { width: 100%; box-sizing: border-box; }
.vw-annotator .vw-ann-status { margin-top: 4px; min-height: 1.4em; color: var(--jp-ui-font-color2, #555); }
.vw-annotator .vw-ann-status[data-kind="error"] { color: var(--jp-error-color1, #b00020); }
`;

/**
 * Column headers: [text, title, width]. Fixed widths for the short columns and the tag choice
 * (a long custom tag is cut with an ellipsis, not widening every row); the proposal and the
 * note share what is left.
 */
const COLUMNS = [
  ["layer", "", "3.4em"], ["head", "", "3.4em"],
  ["proposed (evidence)", "The tag proposed from the head's attention, and the evidence: the share of attention within 1 patch of the query; where the centre of its query-aligned map lies, in patches from the query; the share that goes to CLS/registers; the mean attention distance in pixels. Hover a cell for the full sentences and the rule that fired.", ""],
  ["", "", "6em"], ["your tag", "", "9em"], ["note", "", ""],
];

/**
 * Build the annotator's elements inside el.
 * @returns {object} root, filterSelect, acceptShown, newTagInput, addTag, countLabel, tbody, status
 */
export function buildView(el) {
  ensureStyle("vitwidgets-annotator-style", CSS, el);
  const v = {
    filterSelect: h("select", { className: "vw-filter", title: "Show heads whose tag (yours, or else the proposed one) is…" }),
    acceptShown: h("button", { type: "button", className: "vw-accept-shown", textContent: "accept proposals of shown untagged heads" }),
    newTagInput: h("input", { type: "text", className: "vw-new-tag", placeholder: "new tag", size: 14 }),
    addTag: h("button", { type: "button", className: "vw-add-tag", textContent: "add tag" }),
    countLabel: h("span", { className: "vw-count" }),
    tbody: h("tbody"),
    status: h("div", { className: "vw-ann-status", role: "status" }),
  };
  const cols = COLUMNS.map(([, , width]) => {
    const col = h("col");
    if (width) col.style.width = width;
    return col;
  });
  const table = h("table", {}, h("colgroup", {}, ...cols),
    h("thead", {}, h("tr", {}, ...COLUMNS.map(([t, title]) => h("th", { textContent: t, title })))),
    v.tbody);
  v.root = h("div", { className: "vw-annotator" },
    h("div", { className: "vw-ann-toolbar" },
      h("label", {}, "filter ", v.filterSelect), v.acceptShown, h("span", {}, v.newTagInput, v.addTag), v.countLabel),
    v.scroll = h("div", { className: "vw-ann-scroll" }, table),
    v.status);
  v.root.setAttribute("data-lm-suppress-shortcuts", "true");
  el.appendChild(v.root);
  return v;
}

/**
 * Turn the toolbar's edit controls (accept shown, new tag, add tag) on or off; off also marks
 * the root data-read-only="true". The filter stays usable.
 */
export function setEditable(v, editable) {
  for (const control of [v.acceptShown, v.newTagInput, v.addTag]) control.disabled = !editable;
  v.root.dataset.readOnly = String(!editable);
}

/** Status line text of kind "info" or "error"; an error's text is mirrored on the root's data-error. */
export function showStatus(v, kind, text) {
  v.status.dataset.kind = kind;
  v.status.textContent = text;
  v.root.dataset.error = kind === "error" ? text : "";
}

/** The filter <select>'s options from the tags, set to `current`. */
export function renderFilter(v, tags, current) {
  setOptions(v.filterSelect, filterChoices(tags));
  v.filterSelect.value = current;
}

/**
 * Toolbar events.
 * @param {object} on
 * @param {(value: string) => void} on.filter a filter was picked
 * @param {() => void} on.acceptShown
 * @param {(tag: string) => Promise} on.addTag a new (trimmed, non-empty) tag; the input clears when it resolves
 */
export function bindToolbar(v, on) {
  v.filterSelect.addEventListener("change", () => on.filter(v.filterSelect.value));
  v.acceptShown.addEventListener("click", () => on.acceptShown());
  const submitTag = () => {
    const tag = v.newTagInput.value.trim();
    if (!tag) return;
    on.addTag(tag).then(() => { v.newTagInput.value = ""; }, () => {});
  };
  v.addTag.addEventListener("click", submitTag);
  onEnter(v.newTagInput, submitTag);
}
