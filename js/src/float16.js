// Decoding IEEE-754 half floats (as numpy float16, little-endian) shipped by the kernel as bytes.
// Widget bytes traits and message buffers arrive as DataView whose byteOffset may be odd: a
// Uint16Array needs an even offset, so unaligned views are copied first.

let table = null;

/** Float value of one half-precision bit pattern h (0..65535). */
export function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function decodeTable() {
  if (table === null) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}

/** Bytes of any kind (DataView, typed array, ArrayBuffer) as a Uint8Array over the same memory. */
export function asBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected a DataView, typed array or ArrayBuffer");
}

/** Uint16 view of little-endian 16-bit words; copies when the byteOffset is odd. */
export function asUint16(data) {
  const bytes = asBytes(data);
  if (bytes.byteLength % 2 !== 0) throw new RangeError(`float16 data has an odd length (${bytes.byteLength} bytes)`);
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return new Uint16Array(bytes.slice().buffer);
}

/** Decode float16 bytes into a new Float32Array (one element per half). */
export function decodeFloat16(data) {
  const words = asUint16(data);
  const lut = decodeTable();
  const out = new Float32Array(words.length);
  for (let i = 0; i < words.length; i++) out[i] = lut[words[i]];
  return out;
}

/** Half-precision bit pattern nearest to v (round half up on the mantissa; overflow -> inf). */
export function floatToHalf(v) {
  const f32 = new Float32Array([v]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (mant | 0x800000) >> (1 - e);
    return sign | ((m + 0x1000) >> 13);
  }
  return sign | ((e << 10) + ((mant + 0x1000) >> 13));
}

/** Encode numbers as little-endian float16 bytes (Uint8Array of 2 * length). */
export function encodeFloat16(values) {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]);
  return new Uint8Array(out.buffer);
}
