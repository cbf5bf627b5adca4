// Which heads the annotator shows, and the words of its choices. Pure functions.

/** Filter value that shows the heads you gave no tag. */
export const UNTAGGED = "__untagged__";

/** [value, text] options of the filter <select>: all heads, untagged ones, each tag. */
export function filterChoices(tags) {
  return [["", "all heads"], [UNTAGGED, "untagged (by you)"], ...tags.map((t) => [t, t])];
}

/**
 * Whether a head shows under `filter` ("" = all, UNTAGGED, or a tag). A head matches a tag by
 * your tag, or by the proposed tag while you gave none.
 * @param {string} filter
 * @param {string|undefined} tag your tag ("" or undefined = none)
 * @param {string} proposed the proposed tag
 */
export function rowVisible(filter, tag, proposed) {
  if (!filter) return true;
  if (filter === UNTAGGED) return !tag;
  return (tag || proposed) === filter;
}

/** [value, text] options of a head's tag <select>: none ("—"), each tag, and its current tag if not among them. */
export function tagChoices(tags, current) {
  const wanted = ["", ...tags];
  if (current && !wanted.includes(current)) wanted.push(current);
  return wanted.map((t) => [t, t || "—"]);
}

/** The count beside the toolbar. */
export function countText(shown, total, annotated) {
  return `${shown} of ${total} heads shown · ${annotated} annotated`;
}
