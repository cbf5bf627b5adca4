import { test } from "node:test";
import assert from "node:assert/strict";
import { halfToFloat, decodeFloat16, asUint16, encodeFloat16, floatToHalf } from "../src/float16.js";

// bytes of numpy.array([0, 1, -2, 65504, 2**-24, 0.1, 0.333, 1e-5, inf, -inf], float16).tobytes()
const NUMPY_HEX = "0000003c00c0ff7b0100662e5435a800007c00fc";
const NUMPY_VALUES = [0, 1, -2, 65504, 5.960464477539063e-08, 0.0999755859375, 0.3330078125,
  1.0013580322265625e-05, Infinity, -Infinity];
const hexBytes = (hex) => Uint8Array.from(hex.match(/../g).map((b) => parseInt(b, 16)));

test("decodes numpy float16 bytes exactly", () => {
  const out = decodeFloat16(hexBytes(NUMPY_HEX));
  assert.deepEqual([...out], NUMPY_VALUES);
});

test("special values", () => {
  assert.equal(halfToFloat(0x8000), -0);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(halfToFloat(0x0400), 2 ** -14); // smallest normal
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24); // largest subnormal
});

test("a DataView with an odd byteOffset is copied, not misread", () => {
  const src = hexBytes(NUMPY_HEX);
  const buffer = new ArrayBuffer(src.length + 3);
  new Uint8Array(buffer).set(src, 1); // starts at byte 1: unaligned for Uint16Array
  const view = new DataView(buffer, 1, src.length);
  assert.throws(() => new Uint16Array(buffer, 1, src.length / 2), RangeError);
  assert.deepEqual([...decodeFloat16(view)], NUMPY_VALUES);
  // an even offset is used in place (no copy)
  const even = new ArrayBuffer(src.length + 2);
  new Uint8Array(even).set(src, 2);
  const words = asUint16(new DataView(even, 2, src.length));
  assert.equal(words.buffer, even);
  assert.deepEqual([...decodeFloat16(new DataView(even, 2, src.length))], NUMPY_VALUES);
});

test("ArrayBuffer and typed-array inputs; odd length rejected", () => {
  const src = hexBytes(NUMPY_HEX);
  assert.deepEqual([...decodeFloat16(src.slice().buffer)], NUMPY_VALUES);
  assert.throws(() => decodeFloat16(new Uint8Array(3)), /odd length/);
  assert.throws(() => decodeFloat16([1, 2]), TypeError);
});

test("encoder round-trips every finite half and matches numpy's bytes", () => {
  for (let h = 0; h < 0x7c00; h += 7) assert.equal(floatToHalf(halfToFloat(h)), h);
  assert.deepEqual([...encodeFloat16(NUMPY_VALUES)], [...hexBytes(NUMPY_HEX)]);
});
