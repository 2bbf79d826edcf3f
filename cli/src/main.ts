#!/usr/bin/env node
import { runCli } from './program.js';
import { installProcessHandlers } from './output.js';

installProcessHandlers();

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
