// What the annotator asks of the kernel and writes to the model. Requests (js/src/rpc.js):
//   set     {layer, head, tag}  or  {layer, head, note}
//   accept  {heads: [[layer, head], ...], overwrite}
//   add_tag {tag}
// Each reply's `status` (or the model's `status`) is shown; an error reply shows its message.

import { setTrait, setTraits, headKey } from "../model.js";

const quiet = (promise) => promise.catch(() => {});

/**
 * @param rpc from createRpc
 * @param model the annotator's model
 * @param {(kind: "info"|"error", text: string) => void} showStatus
 */
export function createActions(rpc, model, showStatus) {
  const call = (method, params) => rpc.request(method, params).promise.then(
    ({ result }) => { showStatus("info", result.status || model.get("status")); return result; },
    (err) => { if (!err.cancelled) showStatus("error", err.message); throw err; });
  return {
    /** Select a proposal's head (layer, head traits) in every linked view. */
    select: (p) => setTraits(model, { layer: p.layer, head: p.head }),
    setFilter: (value) => setTrait(model, "filter_tag", value),
    setTag: (p, tag) => quiet(call("set", { layer: p.layer, head: p.head, tag })),
    setNote: (p, note) => quiet(call("set", { layer: p.layer, head: p.head, note })),
    /** The note the kernel holds for a proposal's head ("" for none). */
    savedNote: (p) => ((model.get("annotations") || {})[headKey(p.layer, p.head)] || {}).note || "",
    /** Accept the proposals of heads [[layer, head], ...]; overwrite replaces tags you gave. */
    accept: (heads, overwrite) => quiet(call("accept", { heads, overwrite })),
    /** Add a tag; resolves when saved, rejects (error shown) otherwise. */
    addTag: (tag) => call("add_tag", { tag }),
  };
}
