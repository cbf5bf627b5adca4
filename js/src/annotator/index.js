// HeadAnnotator: a table of heads with the proposed tag (and its evidence), the person's tag and
// a note. Edits go to the kernel as requests (saved there, atomically); the kernel's
// `annotations` trait is the truth this table shows. All user text is set with textContent or
// input.value, never parsed as HTML. This entry only wires the parts.

import { createRpc } from "../rpc.js";
import { listen } from "../model.js";
import { buildView, showStatus, renderFilter, bindToolbar } from "./view.js";
import { createActions } from "./actions.js";
import { buildRows, refreshTable, shownHeads, scrollToSelected } from "./rows.js";

function render({ model, el }) {
  const view = buildView(el);
  const rpc = createRpc(model, {
    timeoutMs: 30000,
    onDisconnect: (err) => { view.root.dataset.disconnected = "true"; showStatus(view, "error", err.message); },
  });
  let rows = new Map(); // "layer:head" -> row
  // the selected head's row in view, below the sticky header (the table's box scrolls, not the page)
  const showSelected = () => scrollToSelected(rows, model, view.scroll, view.tbody.parentElement.tHead?.offsetHeight ?? 0);
  const refresh = () => refreshTable(view, rows, model);
  // an edit that did not save: the table shows the kernel's annotations again (they never changed)
  const actions = createActions(rpc, model, (kind, text) => showStatus(view, kind, text), { revert: refresh });
  const rebuild = () => { rows = buildRows(view.tbody, model.get("rows") || [], actions); refresh(); showSelected(); };
  const filter = () => renderFilter(view, model.get("tags") || [], model.get("filter_tag") || "");
  const status = () => showStatus(view, model.get("status_kind") || "info", model.get("status"));
  bindToolbar(view, {
    filter: actions.setFilter,
    acceptShown: () => actions.accept(shownHeads(rows), false),
    addTag: actions.addTag,
  });
  const off = listen(model, [
    ["change:rows", rebuild],
    ["change:tags", () => { filter(); refresh(); }],
    ["change:annotations change:filter_tag change:read_only", refresh],
    ["change:layer change:head", () => { refresh(); showSelected(); }],
    ["change:status", status],
  ]);
  filter();
  rebuild();
  status();
  view.root.dataset.ready = "true";
  // the selection may not be the first row (a re-run cell, a linked view): once the table is on
  // the page and laid out, scroll its row into view
  let frames = 0;
  const firstScroll = () => {
    if (view.scroll.isConnected && view.scroll.clientHeight > 0) showSelected();
    else if (++frames < 300 && typeof requestAnimationFrame === "function") requestAnimationFrame(firstScroll);
  };
  firstScroll();
  return () => {
    off();
    rpc.dispose();
  };
}

export default { render };
