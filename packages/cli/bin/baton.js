#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in ../dist (built by `npm ci` through the root `prepare` script).
import { main } from '../dist/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
