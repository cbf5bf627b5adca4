import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeArray, decodeReply, decodeFloat32, ARRAY_NAMES } from "../src/codecs.js";
import { encodeFloat16 } from "../src/float16.js";
import { unalignedFloat16 } from "./helpers.js";

const VALUES = [0, 1, -2, 0.5, 0.25, 65504];

test("decodes a float16 array from an unaligned DataView", () => {
  const view = unalignedFloat16(VALUES);
  assert.equal(view.byteOffset % 2, 1);
  const out = decodeArray({ name: "attention", shape: [1, 2, 3], dtype: "float16" }, view);
  assert.equal(out.name, "attention");
  assert.deepEqual(out.shape, [1, 2, 3]);
  assert.ok(out.data instanceof Float32Array);
  assert.deepEqual([...out.data], VALUES);
});

test("decodes aligned views and ArrayBuffers", () => {
  const bytes = encodeFloat16(VALUES);
  const buffer = new ArrayBuffer(bytes.length + 4);
  new Uint8Array(buffer).set(bytes, 4);
  const d = { name: "rollout", shape: [2, 3], dtype: "float16" };
  assert.deepEqual([...decodeArray(d, new DataView(buffer, 4, bytes.length)).data], VALUES);
  assert.deepEqual([...decodeArray(d, bytes.slice().buffer).data], VALUES);
});

test("a byte length that does not match the shape, an unknown dtype and a bad shape are errors", () => {
  const view = unalignedFloat16(VALUES);
  assert.throws(() => decodeArray({ name: "attention", shape: [2, 2, 2], dtype: "float16" }, view),
    { message: 'array "attention": 12 bytes, but shape [2, 2, 2] of float16 needs 16' });
  assert.throws(() => decodeArray({ name: "attention", shape: [6], dtype: "int16" }, view),
    { message: 'array "attention": unknown dtype "int16" (known: float16, float32)' });
  assert.throws(() => decodeArray({ name: "attention", shape: [6], dtype: "toString" }, view), /unknown dtype "toString"/);
  assert.throws(() => decodeArray({ name: "aligned", shape: [2, -3], dtype: "float16" }, view), /shape \[2,-3\] is not a list of sizes/);
  assert.throws(() => decodeArray({ name: "aligned", shape: "6", dtype: "float16" }, view), /not a list of sizes/);
});

test("decodeReply stores arrays by name, in buffer order", () => {
  const result = {
    arrays: [
      { name: "attention", shape: [1, 2, 2], dtype: "float16" },
      { name: "aligned", shape: [1, 1, 2], dtype: "float16" },
    ],
    attention_shape: [1, 2, 2], extra_shape: [1, 1, 2], extra_mode: "aligned",
  };
  const out = decodeReply(result, [unalignedFloat16([1, 0, 0.5, 0.5]), unalignedFloat16([0.25, 0.75])]);
  assert.deepEqual(Object.keys(out).sort(), [...ARRAY_NAMES].sort());
  assert.deepEqual([...out.attention], [1, 0, 0.5, 0.5]);
  assert.deepEqual([...out.aligned], [0.25, 0.75]);
  assert.equal(out.rollout, undefined);
  const empty = { attention: undefined, rollout: undefined, aligned: undefined, q: undefined, k: undefined, lse: undefined, rows: undefined };
  assert.deepEqual(decodeReply({ arrays: [] }, []), empty);
  assert.deepEqual(decodeReply({}, []), empty);
});

test("decodeReply rejects mismatched buffers and unknown names", () => {
  const one = [{ name: "attention", shape: [2], dtype: "float16" }];
  assert.throws(() => decodeReply({ arrays: one }, []), { message: "the reply describes 1 arrays but carries 0 buffers" });
  assert.throws(() => decodeReply({}, [unalignedFloat16([1])]), /describes 0 arrays but carries 1 buffers/);
  assert.throws(() => decodeReply({ arrays: [{ name: "keys", shape: [1], dtype: "float16" }] }, [unalignedFloat16([1])]),
    { message: 'unknown array "keys" in the reply (known: attention, rollout, aligned, q, k, lse, rows)' });
  assert.throws(() => decodeReply({ arrays: "attention" }, []), /not a list of descriptors/);
});

// bytes of numpy.array([0, 1, -2, 0.1, 3.4028235e38, 2**-149, inf, -inf], float32).tobytes()
const F32_HEX = "000000000000803f000000c0cdcccc3dffff7f7f010000000000807f000080ff";
const F32_VALUES = [0, 1, -2, 0.10000000149011612, 3.4028234663852886e38, 1.401298464324817e-45, Infinity, -Infinity];
const hexBytes = (hex) => Uint8Array.from(hex.match(/../g).map((b) => parseInt(b, 16)));

/** bytes as a DataView starting at byte `offset` of a larger buffer. */
function viewAt(bytes, offset) {
  const buffer = new ArrayBuffer(bytes.length + offset + 3);
  new Uint8Array(buffer).set(bytes, offset);
  return new DataView(buffer, offset, bytes.length);
}

test("decodes numpy float32 bytes exactly, at any byteOffset, into a copy", () => {
  const bytes = hexBytes(F32_HEX);
  for (const offset of [0, 1, 2, 3, 4]) {
    const view = viewAt(bytes, offset);
    const out = decodeArray({ name: "lse", shape: [2, 4], dtype: "float32" }, view);
    assert.ok(out.data instanceof Float32Array);
    assert.deepEqual(out.shape, [2, 4]);
    assert.deepEqual([...out.data], F32_VALUES, `offset ${offset}`);
    assert.notEqual(out.data.buffer, view.buffer, "decoded into fresh memory");
  }
  assert.deepEqual([...decodeFloat32(bytes.slice().buffer)], F32_VALUES);
  assert.deepEqual([...decodeFloat32(bytes)], F32_VALUES);
});

test("float32 byte lengths are checked against the shape and the item size", () => {
  const view = viewAt(hexBytes(F32_HEX), 1);
  assert.throws(() => decodeArray({ name: "lse", shape: [2, 2], dtype: "float32" }, view),
    { message: 'array "lse": 32 bytes, but shape [2, 2] of float32 needs 16' });
  assert.throws(() => decodeArray({ name: "lse", shape: [16], dtype: "float32" }, view), /32 bytes, but shape \[16\] of float32 needs 64/);
  assert.throws(() => decodeFloat32(new Uint8Array(6)), RangeError);
});

test("decodeReply carries q, k, lse and rows, mixing float16 and float32 buffers", () => {
  const lseBytes = new Uint8Array(new Float32Array([1.5, -0.25]).buffer);
  const result = {
    arrays: [
      { name: "q", shape: [1, 2, 1], dtype: "float16" },
      { name: "k", shape: [1, 2, 1], dtype: "float16" },
      { name: "lse", shape: [1, 2], dtype: "float32" },
      { name: "rows", shape: [1, 1, 2], dtype: "float16" },
    ],
    queries: [0],
  };
  const out = decodeReply(result, [unalignedFloat16([0.5, -1]), unalignedFloat16([2, 0.125]), viewAt(lseBytes, 1), unalignedFloat16([0.75, 0.25])]);
  assert.deepEqual(Object.keys(out).sort(), [...ARRAY_NAMES].sort());
  assert.deepEqual([...out.q], [0.5, -1]);
  assert.deepEqual([...out.k], [2, 0.125]);
  assert.deepEqual([...out.lse], [1.5, -0.25]);
  assert.deepEqual([...out.rows], [0.75, 0.25]);
  assert.equal(out.attention, undefined);
  assert.equal(out.rollout, undefined);
  assert.equal(out.aligned, undefined);
});
