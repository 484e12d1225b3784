/**
 * Nesting depth of JSON, measured with loops rather than recursion: a hostile body nested a
 * million levels deep must cost a pass over it, never the stack. Depth counts containers: `1`
 * and `"s"` are 0 deep, `[]` and `{}` are 1, `[[1]]` is 2.
 */

/** Whether a parsed JSON value nests objects and arrays deeper than `limit` levels. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const values: object[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const node = values.pop() as object;
    const depth = depths.pop() as number;
    if (depth > limit) return true;
    // Scalars are never pushed: only containers can add depth.
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text nests objects and arrays deeper than `limit` levels, judged from the text
 * alone (brackets inside strings do not count), so a body can be refused before it is parsed.
 * Text that is not JSON gets an answer too; its parser refuses it anyway.
 */
export function textNestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === QUOTE) {
      i = closingQuote(text, i);
    }
  }
  return false;
}

/** Index of the quote that ends the string opening at `open` (text.length when none does). */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return text.length;
    // A quote ends the string unless an odd number of backslashes escapes it.
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}
