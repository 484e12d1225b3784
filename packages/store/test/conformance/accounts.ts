import type { Fixture } from './fixture.js';

/** Placeholder: filled in as the backends' accounts are built. */
export function accountTests(_f: () => Fixture): void {}
