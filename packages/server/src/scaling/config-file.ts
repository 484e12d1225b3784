import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from 'yaml';
import { BatonError, parseBatonConfig } from '@baton/core';
import type { BatonConfig } from '@baton/core';

/** Largest `baton.yaml` read: a config, not a data file. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Parses the text of a `baton.yaml`. Every problem is reported at once, each with the line and
 * the field it is about (`baton.yaml:7: pools.burst.max: max must be at least 1`), so an
 * operator fixes the file in one go. Throws `INVALID_CONFIG`.
 */
export function parseConfigText(text: string, fileName = 'baton.yaml'): BatonConfig {
  const lines = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  let input: unknown;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    input = doc.errors.length > 0 ? null : doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Aliases that expand without bound, or nesting deeper than the stack: a hostile file.
    const reason = err instanceof RangeError ? 'it nests too deeply' : err instanceof Error ? err.message : String(err);
    throw new BatonError('INVALID_CONFIG', `${fileName} is not a usable config: ${reason}`, 400);
  }
  const lineOf = (offset: number) => lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((e) => `${fileName}:${lineOf(e.pos[0])}: ${firstLine(e.message)}`);
    throw new BatonError('INVALID_CONFIG', `${fileName} is not valid YAML:\n${messages.join('\n')}`, 400);
  }
  const parsed = parseBatonConfig(input ?? {});
  if (parsed.ok) return parsed.config;
  const messages = parsed.problems.map((p) => {
    const field = p.path.length > 0 ? `${p.path.join('.')}: ` : '';
    return `${fileName}:${lineAt(doc, p.path, lineOf)}: ${field}${p.message}`;
  });
  throw new BatonError('INVALID_CONFIG', `${fileName} has ${plural(messages.length)}:\n${messages.join('\n')}`, 400);
}

/** Reads and parses a `baton.yaml`; an unreadable or oversized file is `INVALID_CONFIG` too. */
export function loadConfigFile(path: string): BatonConfig {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_BYTES)
      throw new BatonError('INVALID_CONFIG', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`, 400);
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof BatonError) throw err;
    const reason = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new BatonError('INVALID_CONFIG', `cannot read config ${path}: ${reason}`, 400);
  }
  return parseConfigText(text, path);
}

/**
 * The line of the deepest node of `path` the document has: the field itself when present, else
 * the object that lacks it (a missing `max` is reported on its pool's line).
 */
function lineAt(
  doc: ReturnType<typeof parseDocument>,
  path: (string | number)[],
  lineOf: (o: number) => number,
): number {
  for (let depth = path.length; depth > 0; depth--) {
    const parent: unknown = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
    const last = path[depth - 1];
    // The key's line where the parent is a map (`max: 0` or the `burst:` of a pool), else the item's.
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
      if (pair && isNode(pair.key) && pair.key.range) return lineOf(pair.key.range[0]);
    } else if (isSeq(parent) && typeof last === 'number') {
      const item: unknown = parent.items[last];
      if (isNode(item) && item.range) return lineOf(item.range[0]);
    }
  }
  return isNode(doc.contents) && doc.contents.range ? lineOf(doc.contents.range[0]) : 1;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function plural(n: number): string {
  return n === 1 ? '1 problem' : `${n} problems`;
}
