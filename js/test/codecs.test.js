import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeArray, decodeReply, ARRAY_NAMES } from "../src/codecs.js";
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
  assert.throws(() => decodeArray({ name: "attention", shape: [6], dtype: "float32" }, view),
    { message: 'array "attention": unknown dtype "float32" (known: float16)' });
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
  assert.deepEqual(decodeReply({ arrays: [] }, []), { attention: undefined, rollout: undefined, aligned: undefined });
  assert.deepEqual(decodeReply({}, []), { attention: undefined, rollout: undefined, aligned: undefined });
});

test("decodeReply rejects mismatched buffers and unknown names", () => {
  const one = [{ name: "attention", shape: [2], dtype: "float16" }];
  assert.throws(() => decodeReply({ arrays: one }, []), { message: "the reply describes 1 arrays but carries 0 buffers" });
  assert.throws(() => decodeReply({}, [unalignedFloat16([1])]), /describes 0 arrays but carries 1 buffers/);
  assert.throws(() => decodeReply({ arrays: [{ name: "keys", shape: [1], dtype: "float16" }] }, [unalignedFloat16([1])]),
    { message: 'unknown array "keys" in the reply (known: attention, rollout, aligned)' });
  assert.throws(() => decodeReply({ arrays: "attention" }, []), /not a list of descriptors/);
});
