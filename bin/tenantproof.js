#!/usr/bin/env node
// The `tenantproof` command. In a checkout (src/ beside bin/) it runs the TypeScript CLI through
// tsx, so it always runs the code as it is; in the installed package it runs the compiled CLI.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/index.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./cli.ts');
} else {
  await import('../dist/bin/cli.js');
}
