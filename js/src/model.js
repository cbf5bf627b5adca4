// Reading and writing an anywidget model's synced traits, shared by every widget entry.

/**
 * Set trait `name` to `value` and sync it to the kernel; an unchanged value sends nothing.
 * @returns {boolean} whether the trait changed
 */
export function setTrait(model, name, value) {
  if (model.get(name) === value) return false;
  model.set(name, value);
  model.save_changes();
  return true;
}

/**
 * Set several traits ({name: value}, in that order), then sync them to the kernel once;
 * unchanged ones are left alone.
 * @returns {boolean} whether any trait changed
 */
export function setTraits(model, values) {
  let changed = false;
  for (const [name, value] of Object.entries(values)) {
    if (model.get(name) === value) continue;
    model.set(name, value);
    changed = true;
  }
  if (changed) model.save_changes();
  return changed;
}

/**
 * Subscribe to model events: table = [["change:a change:b", handler], ...]. Each event name is
 * subscribed on its own: Backbone (JupyterLab, Notebook 7) splits "change:a change:b" itself,
 * but other anywidget hosts (marimo) take the whole string as one event name that never fires.
 * @returns {() => void} off(): unsubscribes every handler of the table
 */
export function listen(model, table) {
  const pairs = table.flatMap(([events, fn]) => events.split(/\s+/).filter(Boolean).map((e) => [e, fn]));
  for (const [event, fn] of pairs) model.on(event, fn);
  return () => {
    for (const [event, fn] of pairs) model.off(event, fn);
  };
}

/** Key of a head in the kernel's per-head dicts (`head_tags`, `annotations`): "layer:head". */
export function headKey(layer, head) {
  return `${layer}:${head}`;
}
