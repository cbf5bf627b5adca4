// Small DOM helpers shared by the widget entry files. Text always goes in with textContent.

/** Create an element: h("div", {className: "x", title: "t", dataset: {a: "1"}}, child, "text"). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el) el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return el;
}

/**
 * Add a <style> with this id once: inside `el` when given (the widget's own element), else to
 * the document's head. Inside `el` the rules reach the widget wherever the host puts it: marimo
 * renders anywidgets in a shadow root, where the document's styles do not apply.
 */
export function ensureStyle(id, css, el = null) {
  if (el) {
    if ([...el.children].some((c) => c.tagName === "STYLE" && c.dataset.vwStyle === id)) return;
    const style = document.createElement("style");
    style.dataset.vwStyle = id;
    style.textContent = css;
    el.insertBefore(style, el.firstChild);
    return;
  }
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/** Bytes (DataView / typed array / ArrayBuffer) of a PNG or JPEG as a Blob of that type. */
export function bytesToBlob(data, type = "image/png") {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Blob([bytes], { type });
}

/** Bytes (DataView / typed array / ArrayBuffer) of a PNG or JPEG as an object URL. */
export function bytesToObjectUrl(data, type = "image/png") {
  return URL.createObjectURL(bytesToBlob(data, type));
}

/** <option> elements of [value, text] pairs (text set as textContent). */
export function optionElements(pairs) {
  return pairs.map(([value, text]) => h("option", { value, textContent: text }));
}

/** Replace a <select>'s options with [value, text] pairs unless they are already those. */
export function setOptions(select, pairs) {
  const same = select.options.length === pairs.length
    && pairs.every(([value, text], i) => select.options[i].value === value && select.options[i].textContent === text);
  if (!same) select.replaceChildren(...optionElements(pairs));
}

/** Run fn on Enter in a text input; its keys never reach the notebook's shortcuts. */
export function onEnter(input, fn) {
  input.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Enter") fn();
  });
}
