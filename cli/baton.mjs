#!/usr/bin/env node
// The `baton` bin: registers tsx (a dependency of the package, resolved from here rather than from
// the caller's directory) and runs the TypeScript entry point.
import { register } from 'tsx/esm/api';

register();
await import('./baton.ts');
