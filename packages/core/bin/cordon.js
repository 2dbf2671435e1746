#!/usr/bin/env node
// The `cordon` command. A committed file rather than dist/cli/main.js itself, so the
// bin exists when the package manager links it, before the first build.
await import('../dist/cli/main.js');
