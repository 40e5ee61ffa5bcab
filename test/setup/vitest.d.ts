// Types what the global setup provides, so inject('testbed') is typed in tests.
import type { Testbed } from './peers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testbed: Testbed;
  }
}

export {};
