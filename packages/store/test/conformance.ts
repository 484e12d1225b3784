/**
 * The backend-neutral store conformance suite. A backend's test file calls
 * `defineStoreConformance(name, newDatabase)` once per configuration; see the package README.
 */
export { defineStoreConformance } from './conformance/index.js';
export type { NewTestDatabase, OpenStore, TestDatabase } from './conformance/index.js';
