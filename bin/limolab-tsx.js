#!/usr/bin/env node
// Runs a TypeScript file (a benchmark, a worker entry point) through tsx's loader.
import './v8-flags.js';
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
register();
const file = process.argv[2];
if (!file) { console.error('usage: limolab-tsx <file.ts> [args...]'); process.exit(2); }
process.argv.splice(1, 1);
await import(pathToFileURL(resolve(file)).href);
