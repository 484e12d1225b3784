/** How a child agent ended. */
export interface ChildExit {
  code: number | null;
  signal: string | null;
}

/** One agent the autoscaler started: a `baton agent` process (or a test's fake). */
export interface LaunchedAgent {
  readonly pid: number | undefined;
  /** Asks it to drain: finish its running jobs, then exit (SIGTERM). */
  terminate(): void;
  /** Stops it now (SIGKILL). */
  kill(): void;
  /** Settles once it has exited; never rejects. */
  readonly exited: Promise<ChildExit>;
}

export interface LaunchRequest {
  name: string;
  pool: string;
  /** `baton agent` arguments, from `agent` on. */
  args: string[];
  /** Called once the agent has registered with the server, with the id the server gave it. */
  onConnected(agentId: string): void;
}

/** Starts agents: real processes (`processLauncher`) or, in tests, fakes. */
export interface AgentLauncher {
  launch(request: LaunchRequest): LaunchedAgent;
}
