import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Calls `onLine` with each line of `stream` (without its newline), the last one even if unterminated. */
export function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

/** `baton agent` prints this line once it has registered: its name, server and agent id. */
const CONNECTED = /^agent (\S+) connected to \S+ as ([^\s:]+):/;

/** The agent id of `baton agent`'s "connected" line, or null for any other line. */
export function connectedAgentId(line: string): string | null {
  const id = CONNECTED.exec(line)?.[2];
  return id === undefined || id === '?' ? null : id;
}
