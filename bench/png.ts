import { crc32, deflateSync } from 'node:zlib';
import { mulberry32 } from '../test/helpers/prng.ts';

// A minimal PNG encoder (8-bit RGB, filter 0), enough to make real screenshot-like
// images for the benchmark request without an image library.

export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type: none
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}


/**
 * A screenshot-like image: a window with a title bar, buttons, and lines of
 * "text" (noisy dark glyph runs), so it compresses like a real UI capture rather
 * than like a flat colour.
 */
export function screenshotPng(size: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const rgb = new Uint8Array(size * size * 3);
  const fill = (x0: number, y0: number, w: number, h: number, r: number, g: number, b: number) => {
    for (let y = Math.max(0, y0); y < Math.min(size, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(size, x0 + w); x++) {
        const i = (y * size + x) * 3;
        rgb[i] = r;
        rgb[i + 1] = g;
        rgb[i + 2] = b;
      }
    }
  };
  fill(0, 0, size, size, 236, 239, 244);
  fill(0, 0, size, 18, 52, 73, 94); // title bar
  for (let i = 0; i < 6; i++) {
    const w = 20 + Math.floor(random() * 40);
    fill(8 + i * 40, 26, w, 14, 70 + Math.floor(random() * 120), 120, 200); // buttons
  }
  for (let line = 0; line < 18; line++) {
    const y = 50 + line * 11;
    let x = 8;
    while (x < size - 12) {
      const word = 3 + Math.floor(random() * 9) * 3;
      for (let gy = 0; gy < 7; gy++) {
        for (let gx = 0; gx < word && x + gx < size - 8; gx++) {
          if (random() < 0.45) {
            const shade = 20 + Math.floor(random() * 60);
            fill(x + gx, y + gy, 1, 1, shade, shade, shade + 10);
          }
        }
      }
      x += word + 4;
    }
  }
  return encodePng(size, size, rgb);
}
