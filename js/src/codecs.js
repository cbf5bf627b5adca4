// The wire format of arrays from the kernel. A `layer_data` reply's `result.arrays` lists one
// descriptor {name, shape, dtype} per binary message buffer, in buffer order:
//   "attention"  [H, N, N]           float16  (head, query, key; rows sum to 1)
//   "rollout"    [N, N]              float16  (attention rollout of blocks 0..layer)
//   "aligned"    [H, 2gh-1, 2gw-1]   float16  (query-aligned mean map of each head)
// Buffers arrive as DataViews whose byteOffset may be odd; they are decoded to Float32Array.

import { asBytes, decodeFloat16 } from "./float16.js";

/** Bytes per element of each dtype the kernel sends. */
const ITEMSIZE = { float16: 2 };
/** Array names a `layer_data` reply may carry. */
export const ARRAY_NAMES = ["attention", "rollout", "aligned"];

function checkShape(name, shape) {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`array "${name}": shape ${JSON.stringify(shape)} is not a list of sizes`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Decode one array.
 * @param {{name: string, shape: number[], dtype: string}} descriptor
 * @param {DataView|ArrayBufferView|ArrayBuffer} data its bytes (any byteOffset)
 * @returns {{name: string, shape: number[], data: Float32Array}} data has prod(shape) elements
 */
export function decodeArray(descriptor, data) {
  const { name, shape, dtype } = descriptor ?? {};
  const itemsize = ITEMSIZE[dtype];
  if (!itemsize) {
    throw new Error(`array "${name}": unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(ITEMSIZE).join(", ")})`);
  }
  const count = checkShape(name, shape);
  const bytes = asBytes(data);
  if (bytes.byteLength !== count * itemsize) {
    throw new Error(`array "${name}": ${bytes.byteLength} bytes, but shape [${shape.join(", ")}] of ${dtype} needs ${count * itemsize}`);
  }
  return { name, shape: [...shape], data: decodeFloat16(bytes) };
}

/**
 * Decode the arrays of a `layer_data` reply.
 * @param {{arrays?: object[]}} result the reply's JSON result
 * @param {DataView[]} buffers the reply's binary buffers, one per descriptor
 * @returns {{attention?: Float32Array, rollout?: Float32Array, aligned?: Float32Array}}
 *   each present when the reply carried it, else undefined
 */
export function decodeReply(result, buffers = []) {
  const arrays = result?.arrays ?? [];
  if (!Array.isArray(arrays)) throw new Error("the reply's `arrays` is not a list of descriptors");
  if (arrays.length !== buffers.length) {
    throw new Error(`the reply describes ${arrays.length} arrays but carries ${buffers.length} buffers`);
  }
  const out = { attention: undefined, rollout: undefined, aligned: undefined };
  arrays.forEach((descriptor, i) => {
    if (!ARRAY_NAMES.includes(descriptor?.name)) {
      throw new Error(`unknown array ${JSON.stringify(descriptor?.name)} in the reply (known: ${ARRAY_NAMES.join(", ")})`);
    }
    out[descriptor.name] = decodeArray(descriptor, buffers[i]).data;
  });
  return out;
}
