#!/usr/bin/env node
// The limolab command. Sources are TypeScript, run through tsx's loader so that a
// fresh checkout needs no build step.
import './v8-flags.js';
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
