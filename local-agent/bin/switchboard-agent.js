#!/usr/bin/env node
import { main } from '../src/cli.js';

main(process.argv.slice(2)).then(
  // Exit once the command is done, without waiting on sockets still closing.
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (error) => {
    console.error(`switchboard-agent: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
