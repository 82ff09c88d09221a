// Packages loaded when first used, not when the module naming them is. A command imports each
// folder it uses whole (through its index.ts), so a package at the top of any module there is
// loaded by every such command, used or not — and some take longer to load than node itself
// takes to start: yaml 35–45 ms, croner and get-port a few ms each, against 40–50 ms for a bare
// `node -e 0` (#14; `npm run bench -- cli-start`). A synchronous caller gets its package here;
// an async one uses `await import()` where it needs it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** a getter for package NAME (typed T: `typeof import('NAME')`), loading it on its first call */
export function onFirstUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
