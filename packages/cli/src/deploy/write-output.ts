import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError } from '../cli-error.js';
import type { RenderedFile } from './rendered-file.js';
import { GENERATED_MARK } from './rendered-file.js';

/** What a render changed in `--out`: paths relative to it. */
export interface WriteResult {
  written: string[];
  removed: string[];
}

function isGenerated(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').startsWith(GENERATED_MARK);
  } catch {
    return false;
  }
}

/**
 * Writes the files into `outDir` (created if missing). A render owns the files that carry its
 * mark: it overwrites them, and removes those the new render has no more (a deleted pool's
 * manifests, which `kubectl apply -f DIR` would otherwise keep applying). Any other file is left
 * alone, and one in the way of a rendered file stops the render before anything is written.
 */
export function writeRendered(outDir: string, files: readonly RenderedFile[]): WriteResult {
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new CliError(`--out ${outDir} is a file, not a directory`);
  for (const file of files) {
    const path = join(outDir, file.path);
    if (existsSync(path) && !isGenerated(path)) {
      throw new CliError(
        `${path} exists and was not written by baton deploy render; move it away or choose another --out`,
      );
    }
  }
  const keep = new Set(files.map((f) => f.path));
  const removed: string[] = [];
  // Only the folders render writes into are searched for its stale files.
  for (const dir of new Set(['.', ...files.map((f) => dirname(f.path))])) {
    const abs = join(outDir, dir);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) continue;
    for (const name of readdirSync(abs)) {
      const rel = dir === '.' ? name : `${dir}/${name}`;
      const path = join(outDir, rel);
      if (!/\.ya?ml$/.test(name) || keep.has(rel) || !statSync(path).isFile() || !isGenerated(path)) continue;
      unlinkSync(path);
      removed.push(rel);
    }
  }
  for (const file of files) {
    const path = join(outDir, file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content);
  }
  return { written: files.map((f) => f.path), removed };
}
