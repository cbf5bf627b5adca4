// The annotator's table rows: one per proposal {layer, head, proposed, rule, evidence,
// evidence_full}, with the proposed tag and its evidence in words, an accept button, your tag
// (<select>) and a note. A row shows the kernel's `annotations` ({"layer:head": {tag, note, ...}}),
// never local edits. While the kernel says `read_only` (its annotation file could not be used)
// every control is disabled: nothing can be typed that would not be saved.

import { h, onEnter, setOptions } from "../dom.js";
import { setEditable } from "./view.js";
import { headKey } from "../model.js";
import { rowVisible, tagChoices, countText } from "./filter.js";

/** ms after the last keystroke before a note is saved */
export const NOTE_DEBOUNCE_MS = 400;
const CONTROLS = ["SELECT", "INPUT", "BUTTON", "OPTION"];

function bindNote(note, p, actions) {
  let timer = null;
  const send = () => {
    clearTimeout(timer);
    timer = null;
    if (note.value !== actions.savedNote(p)) actions.setNote(p, note.value);
  };
  note.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(send, NOTE_DEBOUNCE_MS); });
  note.addEventListener("change", send);
  onEnter(note, send);
}

/**
 * One row's elements and events.
 * @param {{layer, head, proposed, rule, evidence, evidence_full}} p the proposal (evidence: the
 *   short words shown in the cell; evidence_full: the sentences of its tooltip)
 * @param actions from createActions
 * @returns {{tr, select, note, accept, proposal}}
 */
export function buildRow(p, actions) {
  const select = h("select", { className: "vw-tag", title: "your tag" });
  const note = h("input", { type: "text", className: "vw-note", placeholder: "note" });
  const accept = h("button", { type: "button", className: "vw-accept", textContent: "accept", title: `use "${p.proposed}" as your tag`, disabled: !p.proposed });
  // the full text of a cut-off proposal and evidence, with the rule that fired
  const proposedCell = h("td", { className: "vw-proposed", title: [p.proposed, p.evidence_full || p.evidence, p.rule && `rule: ${p.rule}`].filter(Boolean).join("\n") },
    h("div", { className: "vw-proposed-tag", textContent: p.proposed }),
    h("div", { className: "vw-evidence", textContent: p.evidence || "" }));
  const tr = h("tr", { className: "vw-row", dataset: { layer: String(p.layer), head: String(p.head) } },
    h("td", { textContent: String(p.layer) }), h("td", { textContent: String(p.head) }),
    proposedCell, h("td", {}, accept), h("td", {}, select), h("td", {}, note));
  tr.addEventListener("click", (ev) => {
    if (!CONTROLS.includes(ev.target.tagName)) actions.select(p);
  });
  select.addEventListener("change", () => actions.setTag(p, select.value));
  accept.addEventListener("click", () => actions.accept([[p.layer, p.head]], true));
  bindNote(note, p, actions);
  return { tr, select, note, accept, proposal: p };
}

/** Rows of every proposal in tbody: Map "layer:head" -> row (from buildRow). */
export function buildRows(tbody, proposals, actions) {
  const rows = new Map();
  tbody.replaceChildren();
  for (const p of proposals) {
    const row = buildRow(p, actions);
    tbody.appendChild(row.tr);
    rows.set(headKey(p.layer, p.head), row);
  }
  return rows;
}

/**
 * Show a row's annotation a ({tag, note}) and whether it is selected and visible; a note being
 * edited (`focused`) keeps its text.
 * @returns {boolean} visible
 */
export function refreshRow(r, a, { tags, filter, selected, focused, readOnly = false }) {
  const tag = a.tag || "";
  setOptions(r.select, tagChoices(tags, tag));
  if (r.select.value !== tag) r.select.value = tag;
  if (focused !== r.note && r.note.value !== (a.note || "")) r.note.value = a.note || "";
  r.accept.disabled = readOnly || !r.proposal.proposed || a.tag === r.proposal.proposed;
  r.select.disabled = readOnly;
  r.note.disabled = readOnly;
  r.tr.dataset.tag = tag;
  r.tr.dataset.selected = String(selected);
  const visible = rowVisible(filter, a.tag, r.proposal.proposed);
  r.tr.style.display = visible ? "" : "none";
  r.tr.dataset.visible = String(visible);
  return visible;
}

/**
 * Refresh every row from the model; the count, the toolbar's editable state and the root's
 * layer, head, filter, shown and readOnly attributes.
 */
export function refreshTable(view, rows, model) {
  const annotations = model.get("annotations") || {};
  const filter = model.get("filter_tag");
  const selected = headKey(model.get("layer"), model.get("head"));
  const readOnly = Boolean(model.get("read_only"));
  setEditable(view, !readOnly);
  const context = { tags: model.get("tags") || [], filter, focused: document.activeElement, readOnly };
  let shown = 0;
  for (const [k, r] of rows) {
    if (refreshRow(r, annotations[k] || {}, { ...context, selected: k === selected })) shown += 1;
  }
  view.countLabel.textContent = countText(shown, rows.size, Object.keys(annotations).length);
  Object.assign(view.root.dataset, { layer: String(model.get("layer")), head: String(model.get("head")), filter: filter || "", shown: String(shown) });
}

/** [layer, head] of the rows not filtered out. */
export function shownHeads(rows) {
  return [...rows.values()].filter((r) => r.tr.style.display !== "none").map((r) => [r.proposal.layer, r.proposal.head]);
}

/**
 * The `scrollTop` that shows a row spanning `[rowTop, rowBottom)` (px from the top of the table)
 * in a box of `height` px scrolled to `scrollTop`, below a sticky header of `header` px: the
 * same value when it is in view already, else the smallest move that brings it in.
 */
export function scrollTopFor({ scrollTop, height, header }, rowTop, rowBottom) {
  if (rowTop - header < scrollTop) return Math.max(0, rowTop - header);
  if (rowBottom > scrollTop + height) return Math.min(rowTop - header, rowBottom - height);
  return scrollTop;
}

/**
 * Scroll the table's box (`view.scroll`, not the page: the notebook must not jump) so that the
 * selected head's row is in view below the sticky header, when that row is shown.
 */
export function scrollToSelected(rows, model, box, header = 0) {
  const r = rows.get(headKey(model.get("layer"), model.get("head")));
  if (!r || !box || r.tr.style.display === "none") return;
  // the row's place in the box's scrolled content (offsetTop would be relative to whatever
  // positioned ancestor the notebook has, not to the box)
  const row = r.tr.getBoundingClientRect();
  const top = row.top - box.getBoundingClientRect().top - (box.clientTop || 0) + box.scrollTop;
  box.scrollTop = scrollTopFor({ scrollTop: box.scrollTop, height: box.clientHeight, header },
    top, top + row.height);
}
