// The wire format of arrays from the kernel. A `layer_data` reply's `result.arrays` lists one
// descriptor {name, shape, dtype} per binary message buffer, in buffer order:
//   "attention"  [H, N, N]           float16  (head, query, key; rows sum to 1)
//   "rollout"    [N, N]              float16  (attention rollout of blocks 0..layer)
//   "aligned"    [H, 2gh-1, 2gw-1]   float16  (query-aligned mean map of each head)
//   "q"          [H, N, d]           float16  (queries times the attention scale)
//   "k"          [H, N, d]           float16  (keys)
//   "lse"        [H, N]              float32  (log-sum-exp of each query's logits)
//   "rows"       [T, H', N]          float16  (a `rows` reply: the kernel's rows for the T tokens
//                                              in result.tokens; H' = H for kind "row"/"column",
//                                              1 for "rollout")
// float16 is IEEE half, float32 IEEE single, both little-endian. Buffers arrive as DataViews
// whose byteOffset may be odd; they are decoded to new Float32Arrays.

import { asBytes, decodeFloat16 } from "./float16.js";

/**
 * Float32 copy of little-endian float32 bytes (any byteOffset: the bytes are copied into a
 * fresh, aligned buffer before being viewed).
 * @param {DataView|ArrayBufferView|ArrayBuffer} data byteLength a multiple of 4
 * @returns {Float32Array} byteLength / 4 elements, not sharing memory with data
 */
export function decodeFloat32(data) {
  const bytes = asBytes(data);
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`float32 data of ${bytes.byteLength} bytes is not a whole number of elements`);
  return new Float32Array(bytes.slice().buffer);
}

/** Bytes per element and decoder of each dtype the kernel sends. */
const DTYPES = {
  float16: { itemsize: 2, decode: decodeFloat16 },
  float32: { itemsize: 4, decode: decodeFloat32 },
};
/** Array names a `layer_data` reply may carry. */
export const ARRAY_NAMES = ["attention", "rollout", "aligned", "q", "k", "lse", "rows"];

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
  const codec = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : null;
  if (!codec) {
    throw new Error(`array "${name}": unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPES).join(", ")})`);
  }
  const { itemsize } = codec;
  const count = checkShape(name, shape);
  const bytes = asBytes(data);
  if (bytes.byteLength !== count * itemsize) {
    throw new Error(`array "${name}": ${bytes.byteLength} bytes, but shape [${shape.join(", ")}] of ${dtype} needs ${count * itemsize}`);
  }
  return { name, shape: [...shape], data: codec.decode(bytes) };
}

/**
 * Decode the arrays of a `layer_data` reply.
 * @param {{arrays?: object[]}} result the reply's JSON result
 * @param {DataView[]} buffers the reply's binary buffers, one per descriptor
 * @returns {{attention?: Float32Array, rollout?: Float32Array, aligned?: Float32Array,
 *   q?: Float32Array, k?: Float32Array, lse?: Float32Array, rows?: Float32Array}}
 *   one key per ARRAY_NAMES entry, each present when the reply carried it, else undefined
 */
export function decodeReply(result, buffers = []) {
  const arrays = result?.arrays ?? [];
  if (!Array.isArray(arrays)) throw new Error("the reply's `arrays` is not a list of descriptors");
  if (arrays.length !== buffers.length) {
    throw new Error(`the reply describes ${arrays.length} arrays but carries ${buffers.length} buffers`);
  }
  const out = Object.fromEntries(ARRAY_NAMES.map((name) => [name, undefined]));
  arrays.forEach((descriptor, i) => {
    if (!ARRAY_NAMES.includes(descriptor?.name)) {
      throw new Error(`unknown array ${JSON.stringify(descriptor?.name)} in the reply (known: ${ARRAY_NAMES.join(", ")})`);
    }
    out[descriptor.name] = decodeArray(descriptor, buffers[i]).data;
  });
  return out;
}
