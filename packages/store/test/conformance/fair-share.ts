import type { Fixture } from './fixture.js';

/** Placeholder: filled in as the backends' fair-share calls are built. */
export function fairShareTests(_f: () => Fixture): void {}
