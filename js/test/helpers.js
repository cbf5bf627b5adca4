// Test helpers: a jsdom document whose <canvas> elements draw with @napi-rs/canvas (real pixels,
// offline), a fake anywidget model, and the pieces of a fake kernel answering the explorer's
// requests (its `_modes` / `_colormaps` traits and `layer_data` replies).
import { JSDOM } from "jsdom";
import { createCanvas } from "@napi-rs/canvas";
import { encodeFloat16 } from "../src/float16.js";

const backing = new WeakMap();

function napiCanvasOf(el) {
  let c = backing.get(el);
  const w = el.width || 300;
  const h = el.height || 150;
  if (!c || c.width !== w || c.height !== h) {
    c = createCanvas(w, h);
    backing.set(el, c);
  }
  return c;
}

function contextProxy(ctx) {
  return new Proxy(ctx, {
    get(target, prop) {
      if (prop === "drawImage") {
        return (source, ...args) => target.drawImage(backing.get(source) ?? source, ...args);
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
  });
}

/** Install a jsdom window as the global DOM; canvases get real 2D contexts. */
export function installDom() {
  const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", { pretendToBeVisual: true });
  const { window } = dom;
  window.HTMLCanvasElement.prototype.getContext = function getContext(type) {
    if (type !== "2d") return null;
    return contextProxy(napiCanvasOf(this).getContext("2d"));
  };
  globalThis.window = window;
  globalThis.document = window.document;
  globalThis.Blob = window.Blob;
  return window;
}

/** The 2D pixel [r, g, b, a] of a jsdom canvas at (x, y). */
export function pixel(canvasEl, x, y) {
  return [...napiCanvasOf(canvasEl).getContext("2d").getImageData(Math.floor(x), Math.floor(y), 1, 1).data];
}

/** A minimal anywidget model: get/set/on/off/send/save_changes, "change:x" events. */
export class FakeModel {
  constructor(state) {
    this.state = { ...state };
    this.handlers = new Map();
    this.sent = [];
    this.saves = 0;
    this.onSend = null;
  }
  get(k) { return this.state[k]; }
  set(k, v) {
    const old = this.state[k];
    this.state[k] = v;
    if (old !== v) this.emit(`change:${k}`);
  }
  on(events, fn) {
    for (const e of events.split(/\s+/)) {
      if (!this.handlers.has(e)) this.handlers.set(e, new Set());
      this.handlers.get(e).add(fn);
    }
  }
  off(events, fn) {
    for (const e of events.split(/\s+/)) this.handlers.get(e)?.delete(fn);
  }
  emit(event, ...args) {
    for (const fn of [...(this.handlers.get(event) ?? [])]) fn(...args);
  }
  send(msg) {
    this.sent.push(msg);
    if (this.onSend) this.onSend(msg);
  }
  save_changes() { this.saves += 1; }
}

/** float16 bytes of values as a DataView starting at an odd byte offset (as a kernel buffer may). */
export function unalignedFloat16(values) {
  const bytes = encodeFloat16(values);
  const buffer = new ArrayBuffer(bytes.length + 1);
  new Uint8Array(buffer).set(bytes, 1);
  return new DataView(buffer, 1, bytes.length);
}

/** The explorer's `_modes` trait as the kernel sends it (vitwidgets/core/vocab.py MODE_INFO). */
export const MODES = [
  { id: "row", label: "query → keys", title: "Attention from the hovered query to every key" },
  { id: "column", label: "keys ← all queries", title: "Attention every query pays to the hovered key" },
  { id: "cls", label: "CLS → patches", title: "Attention from the first prefix token (CLS) to every token" },
  { id: "rollout", label: "rollout ≤ layer", title: "Attention rollout (Abnar & Zuidema) of blocks 0..layer, mean of heads; hovered query's row" },
  { id: "aligned", label: "aligned average", title: "Each head's attention averaged over queries after centring every query (Walmer et al.): centre cell = the query itself" },
];

/** The explorer's `_colormaps` trait as the kernel sends it. */
export const COLORMAPS = ["viridis", "magma", "inferno", "gray"];

/**
 * A kernel's ok reply to `layer_data`: [content, buffers] with one `arrays` descriptor
 * {name, shape, dtype: "float16"} per buffer (each an odd-offset DataView of float16 bytes),
 * plus the older shape fields the kernel still sends.
 * @param {string} id the request's id
 * @param {{name: string, shape: number[], values: ArrayLike<number>}[]} parts in buffer order
 */
export function layerDataReply(id, parts) {
  const attention = parts.find((p) => p.name === "attention");
  const extra = parts.find((p) => p.name !== "attention");
  const result = {
    arrays: parts.map(({ name, shape }) => ({ name, shape, dtype: "float16" })),
    attention_shape: attention ? attention.shape : null, extra_shape: extra ? extra.shape : null, extra_mode: extra ? extra.name : null,
  };
  return [{ kind: "reply", id, ok: true, result }, parts.map((p) => unalignedFloat16(p.values))];
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

export async function until(fn, what, timeoutMs = 2000) {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await tick(5);
  }
}

/** The ConceptMap's `_labels` as the kernel sends them: two labelled blocks (3 and 5) of 4
 * units; concepts red (colour), stripes (texture), class:star (class). */
export const CONCEPT_LABELS = {
  blocks: [3, 5],
  concepts: [["red", "colour"], ["stripes", "texture"], ["class:star", "class"]],
  summary: [
    { layer: 3, num_units: 4, num_labelled: 3, num_concepts: 2, category_share: { colour: 2 / 3, texture: 1 / 3, class: 0 }, best: [0, -1, 1, 0], iou: [0.05, 0.01, 0.2, 0.05] },
    { layer: 5, num_units: 4, num_labelled: 1, num_concepts: 1, category_share: { colour: 0, texture: 0, class: 1 }, best: [-1, 2, -1, -1], iou: [0, 0.3, 0.02, 0] },
  ],
};
