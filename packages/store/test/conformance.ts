/**
 * The backend-neutral store conformance suite. A backend's test file calls
 * `defineStoreConformance(name, open)` once per configuration; see the package README.
 */
export { defineStoreConformance } from './conformance/index.js';
export type { OpenStore } from './conformance/index.js';
