#!/usr/bin/env node
// The `tenantproof` command: registers tsx so the TypeScript CLI runs as is, then starts it.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
