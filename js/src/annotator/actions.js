// What the annotator asks of the kernel and writes to the model. Requests (js/src/rpc.js):
//   set     {layer, head, tag}  or  {layer, head, note}
//   accept  {heads: [[layer, head], ...], overwrite}
//   add_tag {tag}
// Each reply's `status` (or the model's `status`) is shown; an error reply, a timeout or a dead
// kernel shows what was not saved and why, and the table goes back to what the kernel holds
// (`revert`): an edit that did not save never looks saved. A note that did not save is quoted
// in the message, so that its text is not lost.

import { setTrait, setTraits, headKey } from "../model.js";

const quiet = (promise) => promise.catch(() => {});

/** The status text of an edit that did not save: what, why, and that the table shows the saved value. */
export function unsavedText(what, err) {
  return `${what} was not saved: ${err.message}. The table shows what is saved.`;
}

const headName = (p) => `layer ${p.layer} head ${p.head}`;

/**
 * @param rpc from createRpc
 * @param model the annotator's model
 * @param {(kind: "info"|"error", text: string) => void} showStatus
 * @param {object} [o]
 * @param {() => void} [o.revert] show the kernel's annotations again (after an edit failed)
 */
export function createActions(rpc, model, showStatus, { revert = () => {} } = {}) {
  const call = (method, params, what) => rpc.request(method, params).promise.then(
    ({ result }) => { showStatus("info", result.status || model.get("status")); return result; },
    (err) => {
      if (!err.cancelled) showStatus("error", what ? unsavedText(what, err) : err.message);
      revert();
      throw err;
    });
  return {
    /** Select a proposal's head (layer, head traits) in every linked view. */
    select: (p) => setTraits(model, { layer: p.layer, head: p.head }),
    setFilter: (value) => setTrait(model, "filter_tag", value),
    setTag: (p, tag) => quiet(call("set", { layer: p.layer, head: p.head, tag }, `your tag ${JSON.stringify(tag || "—")} for ${headName(p)}`)),
    setNote: (p, note) => quiet(call("set", { layer: p.layer, head: p.head, note }, `your note ${JSON.stringify(note)} for ${headName(p)}`)),
    /** The note the kernel holds for a proposal's head ("" for none). */
    savedNote: (p) => ((model.get("annotations") || {})[headKey(p.layer, p.head)] || {}).note || "",
    /** Accept the proposals of heads [[layer, head], ...]; overwrite replaces tags you gave. */
    accept: (heads, overwrite) => quiet(call("accept", { heads, overwrite }, `accepting ${heads.length === 1 ? "the proposal" : `${heads.length} proposals`}`)),
    /** Add a tag; resolves when saved, rejects (error shown) otherwise. */
    addTag: (tag) => call("add_tag", { tag }),
  };
}
