import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { installDom, tick } from "./helpers.js";
import { createImageDecoder } from "../src/explorer/image.js";

before(() => installDom());
after(() => { delete globalThis.createImageBitmap; });

test("no bytes means no image", async () => {
  const seen = [];
  const decode = createImageDecoder({ onImage: (i) => seen.push(i), onError: (m) => seen.push(m) });
  await decode(new DataView(new ArrayBuffer(0)), "image/png");
  await decode(null, "image/png");
  assert.deepEqual(seen, [null, null]);
});

test("only the latest decode is delivered; failures are reported", async () => {
  const seen = [];
  globalThis.createImageBitmap = async (blob) => {
    const n = blob.size;
    await tick(n === 1 ? 20 : 1); // the first (1-byte) image decodes slower than the second
    if (n === 3) throw new Error("bad PNG");
    return { bytes: n, type: blob.type };
  };
  const decode = createImageDecoder({ onImage: (i) => seen.push(i), onError: (m) => seen.push(m) });
  const first = decode(new DataView(new ArrayBuffer(1)), "image/jpeg");
  const second = decode(new DataView(new ArrayBuffer(2)), "");
  await Promise.all([first, second]);
  assert.deepEqual(seen, [{ bytes: 2, type: "image/png" }]);
  await decode(new DataView(new ArrayBuffer(3)), "image/png");
  assert.equal(seen.at(-1), "could not decode the image: bad PNG");
});
