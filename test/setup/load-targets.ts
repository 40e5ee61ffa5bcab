// Tests build targets directly with createTarget(); import every type's module first (the CLI
// imports only the types its configuration uses, see src/targets/registry.ts).
import { loadTargetTypes } from '../../src/targets/registry.js';

await loadTargetTypes();
