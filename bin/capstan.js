#!/usr/bin/env node
// The CLI is TypeScript run directly by Node 24's type stripping: no build step.
import "../src/cli/capstan.ts";
