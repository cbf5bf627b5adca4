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
 * Subscribe to model events: table = [["change:a change:b", handler], ...].
 * @returns {() => void} off(): unsubscribes every handler of the table
 */
export function listen(model, table) {
  for (const [events, fn] of table) model.on(events, fn);
  return () => {
    for (const [events, fn] of table) model.off(events, fn);
  };
}

/** Key of a head in the kernel's per-head dicts (`head_tags`, `annotations`): "layer:head". */
export function headKey(layer, head) {
  return `${layer}:${head}`;
}
