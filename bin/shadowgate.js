#!/usr/bin/env node
// The CLI runs the bundled build so `npx shadowgate` needs no TypeScript toolchain.
import { main } from "../dist/cli.js";

process.exitCode = await main(process.argv.slice(2));
