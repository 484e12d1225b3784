/**
 * Counts the values in a msgpack frame without decoding it: decoding allocates an object per
 * map or array, so an 8 MiB frame of one-byte empty maps would cost hundreds of MiB and seconds
 * before any limit on its messages could be checked. The walk allocates nothing: it skips each
 * value, keeping only the number of values still to read.
 */
export interface FrameShape {
  /** Elements of the frame's top-level array (messages), or -1 when it is not an array. */
  messages: number;
  /** Values in the frame, the array itself included; counting stops past `stopAfter`. */
  values: number;
}

/** Size of the values of fixed size among the type bytes 0xc0–0xdf (nil, booleans, numbers, fixext). */
const FIXED: Readonly<Record<number, number>> = {
  0xc0: 1,
  0xc1: 1, // never used: decoding rejects it
  0xc2: 1,
  0xc3: 1,
  0xca: 5,
  0xcb: 9,
  0xcc: 2,
  0xcd: 3,
  0xce: 5,
  0xcf: 9,
  0xd0: 2,
  0xd1: 3,
  0xd2: 5,
  0xd3: 9,
  0xd4: 3,
  0xd5: 4,
  0xd6: 6,
  0xd7: 10,
  0xd8: 18,
};

/** The others: width of their length, bytes between it and the data (ext's type), what it counts. */
const LENGTH: Readonly<Record<number, readonly [1 | 2 | 4, number, 'bytes' | 'items' | 'pairs']>> = {
  0xc4: [1, 0, 'bytes'], // bin
  0xc5: [2, 0, 'bytes'],
  0xc6: [4, 0, 'bytes'],
  0xc7: [1, 1, 'bytes'], // ext
  0xc8: [2, 1, 'bytes'],
  0xc9: [4, 1, 'bytes'],
  0xd9: [1, 0, 'bytes'], // str
  0xda: [2, 0, 'bytes'],
  0xdb: [4, 0, 'bytes'],
  0xdc: [2, 0, 'items'], // array
  0xdd: [4, 0, 'items'],
  0xde: [2, 0, 'pairs'], // map
  0xdf: [4, 0, 'pairs'],
};

export function frameShape(data: Uint8Array, stopAfter = Infinity): FrameShape {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const lengthAt = (at: number, width: 1 | 2 | 4): number =>
    width === 1 ? view.getUint8(at) : width === 2 ? view.getUint16(at) : view.getUint32(at);
  const first = data[0] ?? 0xc1;
  let messages = -1;
  if (first >= 0x90 && first <= 0x9f) messages = first & 0x0f;
  else if ((first === 0xdc && data.length >= 3) || (first === 0xdd && data.length >= 5)) {
    messages = lengthAt(1, first === 0xdc ? 2 : 4);
  }
  let pending = 1;
  let values = 0;
  let at = 0;
  while (pending > 0 && at < data.length && values <= stopAfter) {
    const b = data[at]!;
    pending--;
    values++;
    if (b <= 0x7f || b >= 0xe0) {
      at += 1; // fixint
    } else if (b <= 0x8f) {
      pending += 2 * (b & 0x0f); // fixmap
      at += 1;
    } else if (b <= 0x9f) {
      pending += b & 0x0f; // fixarray
      at += 1;
    } else if (b <= 0xbf) {
      at += 1 + (b & 0x1f); // fixstr
    } else if (FIXED[b] !== undefined) {
      at += FIXED[b];
    } else {
      const [width, extra, counts] = LENGTH[b]!;
      if (at + 1 + width > data.length) break; // cut short: decoding will say so
      const n = lengthAt(at + 1, width);
      at += 1 + width + extra;
      if (counts === 'bytes') at += n;
      else pending += counts === 'items' ? n : 2 * n;
    }
  }
  return { messages, values };
}
