// HeadAnnotator: a table of heads with the proposed tag (and its evidence), the person's tag and
// a note. Edits go to the kernel as requests (saved there, atomically); the kernel's
// `annotations` trait is the truth this table shows. All user text is set with textContent or
// input.value, never parsed as HTML.

import { createRpc } from "./rpc.js";
import { h, ensureStyle } from "./dom.js";

const NOTE_DEBOUNCE_MS = 400;
const UNTAGGED = "__untagged__";

const CSS = `
.vw-annotator { font: 12px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); }
.vw-annotator .vw-ann-toolbar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin-bottom: 6px; }
.vw-annotator .vw-ann-scroll { max-height: 360px; overflow-y: auto; border: 1px solid var(--jp-border-color2, #ccc); }
.vw-annotator table { border-collapse: collapse; width: 100%; }
.vw-annotator th { position: sticky; top: 0; background: var(--jp-layout-color2, #eee); text-align: left; padding: 3px 6px; z-index: 1; }
.vw-annotator td { padding: 2px 6px; border-top: 1px solid var(--jp-border-color3, #eee); vertical-align: middle; }
.vw-annotator tr.vw-row { cursor: pointer; scroll-margin-top: 2.4em; } /* clear of the sticky header */
.vw-annotator tr.vw-row:hover { background: rgba(52, 101, 164, 0.08); }
.vw-annotator tr.vw-row[data-selected="true"] { background: rgba(240, 160, 32, 0.25); }
.vw-annotator .vw-evidence { color: var(--jp-ui-font-color2, #666); font-size: 11px; white-space: nowrap; }
.vw-annotator .vw-proposed-tag { font-weight: 600; white-space: nowrap; }
.vw-annotator input.vw-note { width: 100%; min-width: 120px; box-sizing: border-box; }
.vw-annotator .vw-ann-status { margin-top: 4px; min-height: 1.4em; color: var(--jp-ui-font-color2, #555); }
.vw-annotator .vw-ann-status[data-kind="error"] { color: #b00020; }
`;

function render({ model, el }) {
  ensureStyle("vitwidgets-annotator-style", CSS);
  const rpc = createRpc(model, { timeoutMs: 30000 });
  const key = (layer, head) => `${layer}:${head}`;

  const filterSelect = h("select", { className: "vw-filter", title: "Show heads whose tag (yours, or else the proposed one) is…" });
  const acceptShown = h("button", { type: "button", className: "vw-accept-shown", textContent: "accept proposals of shown untagged heads" });
  const newTagInput = h("input", { type: "text", className: "vw-new-tag", placeholder: "new tag", size: 14 });
  const addTag = h("button", { type: "button", className: "vw-add-tag", textContent: "add tag" });
  const countLabel = h("span", { className: "vw-count" });
  const tbody = h("tbody");
  const table = h("table", {},
    h("thead", {}, h("tr", {}, ...[
      ["layer"], ["head"],
      ["proposed (evidence)", "Evidence: local = share of the query-aligned map within one patch of the query; offset = (dy, dx) of its centre of mass in patches; prefix = share of attention on prefix tokens; mean attention distance in pixels. Hover a cell for the rule that fired."],
      [""], ["your tag"], ["note"],
    ].map(([t, title]) => h("th", { textContent: t, title })))),
    tbody);
  const status = h("div", { className: "vw-ann-status", role: "status" });
  const root = h("div", { className: "vw-annotator" },
    h("div", { className: "vw-ann-toolbar" }, h("label", {}, "filter ", filterSelect), acceptShown, h("span", {}, newTagInput, addTag), countLabel),
    h("div", { className: "vw-ann-scroll" }, table),
    status);
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  el.appendChild(root);

  let rowEls = new Map(); // "l:h" -> {tr, select, note, accept, proposal}

  function setTrait(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  function showStatus(kind, text) {
    status.dataset.kind = kind;
    status.textContent = text;
    root.dataset.error = kind === "error" ? text : "";
  }

  function call(method, params) {
    return rpc.request(method, params).promise.then(
      ({ result }) => { showStatus("info", result.status || model.get("status")); return result; },
      (err) => { if (!err.cancelled) showStatus("error", err.message); throw err; });
  }

  function tagOptions(select, current) {
    const tags = model.get("tags") || [];
    const wanted = ["", ...tags];
    if (current && !wanted.includes(current)) wanted.push(current);
    if (select.options.length !== wanted.length || [...select.options].some((o, i) => o.value !== wanted[i])) {
      select.replaceChildren(...wanted.map((t) => { const o = document.createElement("option"); o.value = t; o.textContent = t || "—"; return o; }));
    }
    if (select.value !== current) select.value = current;
  }

  function buildRows() {
    tbody.replaceChildren();
    rowEls = new Map();
    for (const p of model.get("rows") || []) {
      const k = key(p.layer, p.head);
      const select = h("select", { className: "vw-tag", title: "your tag" });
      const note = h("input", { type: "text", className: "vw-note", placeholder: "note" });
      const accept = h("button", { type: "button", className: "vw-accept", textContent: "accept", title: `use "${p.proposed}" as your tag` });
      const proposedCell = h("td", { className: "vw-proposed", title: p.rule || "" },
        h("div", { className: "vw-proposed-tag", textContent: p.proposed }),
        h("div", { className: "vw-evidence", textContent: p.evidence || "" }));
      const tr = h("tr", { className: "vw-row", dataset: { layer: String(p.layer), head: String(p.head) } },
        h("td", { textContent: String(p.layer) }), h("td", { textContent: String(p.head) }),
        proposedCell, h("td", {}, accept), h("td", {}, select), h("td", {}, note));
      tr.addEventListener("click", (ev) => {
        if (["SELECT", "INPUT", "BUTTON", "OPTION"].includes(ev.target.tagName)) return;
        if (model.get("layer") !== p.layer) model.set("layer", p.layer);
        model.set("head", p.head);
        model.save_changes();
      });
      select.addEventListener("change", () => call("set", { layer: p.layer, head: p.head, tag: select.value }).catch(() => {}));
      accept.addEventListener("click", () => call("accept", { heads: [[p.layer, p.head]], overwrite: true }).catch(() => {}));
      let timer = null;
      const sendNote = () => {
        clearTimeout(timer);
        timer = null;
        const current = (model.get("annotations")[k] || {}).note || "";
        if (note.value !== current) call("set", { layer: p.layer, head: p.head, note: note.value }).catch(() => {});
      };
      note.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(sendNote, NOTE_DEBOUNCE_MS); });
      note.addEventListener("change", sendNote);
      note.addEventListener("keydown", (ev) => { ev.stopPropagation(); if (ev.key === "Enter") sendNote(); });
      tbody.appendChild(tr);
      rowEls.set(k, { tr, select, note, accept, proposal: p });
    }
    refresh();
  }


  function refresh() {
    const annotations = model.get("annotations") || {};
    const filter = model.get("filter_tag");
    const selected = key(model.get("layer"), model.get("head"));
    let shown = 0;
    for (const [k, r] of rowEls) {
      const a = annotations[k] || {};
      tagOptions(r.select, a.tag || "");
      if (document.activeElement !== r.note && r.note.value !== (a.note || "")) r.note.value = a.note || "";
      r.accept.disabled = a.tag === r.proposal.proposed;
      r.tr.dataset.tag = a.tag || "";
      r.tr.dataset.selected = String(k === selected);
      // a head matches a tag filter by your tag, or by the proposed tag while you gave none
      const tag = a.tag || null;
      const visible = !filter ? true : filter === UNTAGGED ? !tag : (tag ?? r.proposal.proposed) === filter;
      r.tr.style.display = visible ? "" : "none";
      r.tr.dataset.visible = String(visible);
      if (visible) shown += 1;
    }
    countLabel.textContent = `${shown} of ${rowEls.size} heads shown · ${Object.keys(annotations).length} annotated`;
    Object.assign(root.dataset, { layer: String(model.get("layer")), head: String(model.get("head")), filter: filter || "", shown: String(shown) });
  }

  function buildFilter() {
    const tags = model.get("tags") || [];
    const options = [["", "all heads"], [UNTAGGED, "untagged (by you)"], ...tags.map((t) => [t, t])];
    filterSelect.replaceChildren(...options.map(([v, t]) => { const o = document.createElement("option"); o.value = v; o.textContent = t; return o; }));
    filterSelect.value = model.get("filter_tag") || "";
  }

  function scrollToSelected() {
    const r = rowEls.get(key(model.get("layer"), model.get("head")));
    if (r && r.tr.style.display !== "none" && typeof r.tr.scrollIntoView === "function") r.tr.scrollIntoView({ block: "nearest" });
  }

  filterSelect.addEventListener("change", () => setTrait("filter_tag", filterSelect.value));
  acceptShown.addEventListener("click", () => {
    const heads = [...rowEls.values()].filter((r) => r.tr.style.display !== "none").map((r) => [r.proposal.layer, r.proposal.head]);
    call("accept", { heads, overwrite: false }).catch(() => {});
  });
  const submitTag = () => {
    const tag = newTagInput.value.trim();
    if (!tag) return;
    call("add_tag", { tag }).then(() => { newTagInput.value = ""; }, () => {});
  };
  addTag.addEventListener("click", submitTag);
  newTagInput.addEventListener("keydown", (ev) => { ev.stopPropagation(); if (ev.key === "Enter") submitTag(); });

  const listeners = [
    ["change:rows", buildRows],
    ["change:tags", () => { buildFilter(); refresh(); }],
    ["change:annotations change:filter_tag", refresh],
    ["change:layer change:head", () => { refresh(); scrollToSelected(); }],
    ["change:status", () => showStatus(model.get("status_kind") || "info", model.get("status"))],
  ];
  for (const [events, fn] of listeners) model.on(events, fn);
  buildFilter();
  buildRows();
  showStatus(model.get("status_kind") || "info", model.get("status"));
  root.dataset.ready = "true";

  return () => {
    for (const [events, fn] of listeners) model.off(events, fn);
    rpc.dispose();
  };
}

export default { render };
