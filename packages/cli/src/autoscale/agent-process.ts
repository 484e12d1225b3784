import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentLauncher, ChildExit, LaunchRequest, LaunchedAgent } from './agent-launcher.js';
import { connectedAgentId, forEachLine } from './output-lines.js';

/** The CLI's own `baton` bin: the `bin.baton` of packages/cli/package.json (from src/ and dist/ alike). */
export function batonBinPath(): string {
  const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));
  const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as { bin?: Record<string, string> };
  const bin = manifest.bin?.baton;
  if (bin === undefined) throw new Error(`${packageJson} names no "baton" bin`);
  return resolve(dirname(packageJson), bin);
}

/** Secrets of this process that an agent child has no use for. */
const NOT_INHERITED = ['BATON_ADMIN_TOKEN', 'BATON_TOKEN', 'BATON_AGENT_TOKEN'];

export interface ProcessLauncherOptions {
  /** The agent token, given to each child in BATON_AGENT_TOKEN. */
  agentToken: string;
  /** Where each line of a child's output goes, already prefixed with its name. */
  output(line: string): void;
  /** The environment children start from. [process.env] */
  env?: NodeJS.ProcessEnv;
  /** The `baton` bin to run. [batonBinPath()] */
  bin?: string;
}

/**
 * Starts `baton agent` children: `node <bin> agent ...`, the token in their environment, their
 * stdout and stderr line by line to `output` as `[name] line`.
 */
export function processLauncher(options: ProcessLauncherOptions): AgentLauncher {
  const bin = options.bin ?? batonBinPath();
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  for (const name of NOT_INHERITED) delete env[name];
  env.BATON_AGENT_TOKEN = options.agentToken;
  return {
    launch(request: LaunchRequest): LaunchedAgent {
      const child = spawn(process.execPath, [bin, ...request.args], { stdio: ['ignore', 'pipe', 'pipe'], env });
      const exited = new Promise<ChildExit>((settle) => {
        child.once('exit', (code, signal) => settle({ code, signal }));
        // Not started at all (no such file, too many processes): an exit like any other.
        child.once('error', (err) => {
          if (child.pid === undefined) settle({ code: null, signal: `spawn failed: ${err.message}` });
        });
      });
      let connected = false;
      forEachLine(child.stdout, (line) => {
        options.output(`[${request.name}] ${line}`);
        const id = connected ? null : connectedAgentId(line);
        if (id !== null) {
          connected = true;
          request.onConnected(id);
        }
      });
      forEachLine(child.stderr, (line) => options.output(`[${request.name}] ${line}`));
      const signal = (s: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(s);
      };
      return {
        pid: child.pid,
        terminate: () => signal('SIGTERM'),
        kill: () => signal('SIGKILL'),
        exited,
      };
    },
  };
}
