// Decoding the `_image` bytes trait (PNG or JPEG) into something a canvas can draw.

import { bytesToBlob } from "../dom.js";

/**
 * A decoder of image bytes; when calls overlap only the latest one's image is delivered.
 * @param {object} o
 * @param {(image: ImageBitmap|null) => void} o.onImage the decoded image, null for no bytes
 * @param {(message: string) => void} o.onError the bytes could not be decoded
 * @returns {(data: DataView|null, format: string) => Promise<void>}
 */
export function createImageDecoder({ onImage, onError }) {
  let latest = 0;
  return async function decode(data, format) {
    const token = ++latest;
    if (!data || data.byteLength === 0) {
      onImage(null);
      return;
    }
    let image;
    try {
      image = await createImageBitmap(bytesToBlob(data, format || "image/png"));
    } catch (err) {
      onError(`could not decode the image: ${err.message}`);
      return;
    }
    if (token === latest) onImage(image);
  };
}
