#!/usr/bin/env node
// Checks a captured log of a full test run (.ci/run tees `npm test` into one) for secrets:
// anything shaped like a gateway key or an agent token the gateway issues, and every key,
// token and secret the tests configure (string constants named *KEY*, *TOKEN*, *SECRET* in
// test files). A test that must see a secret reads it from a response, never from a log.
// Usage: node scripts/check-log-secrets.mjs <log file>

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ISSUED_SECRET_SHAPES = [/sk-sb-[A-Za-z0-9_-]{43}/g, /sb-agent-[A-Za-z0-9_-]{43}/g];
const SECRET_CONSTANT = /\b[A-Z_]*(?:KEY|TOKEN|SECRET)[A-Z_]*\s*=\s*'([^']{12,})'/g;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mjs|js)$/.test(entry.name)) yield path;
  }
}

/** The secret values the test suite configures, by the names the tests give them. */
export function configuredTestSecrets(roots = ['test', 'src']) {
  const secrets = new Set();
  for (const root of roots) {
    for (const file of sourceFiles(root)) {
      if (root === 'src' && !file.endsWith('.test.ts')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(SECRET_CONSTANT)) secrets.add(match[1]);
    }
  }
  return [...secrets];
}

/** Where each secret shows up in the log: [] when the log is clean. Secrets are never echoed whole. */
export function secretsInLog(log, secrets) {
  const text = log.replace(/\x1b\[[0-9;]*m/g, ''); // colour codes could split a match
  const found = [];
  for (const shape of ISSUED_SECRET_SHAPES) {
    for (const match of text.matchAll(shape)) found.push({ what: `an issued ${match[0].startsWith('sk-') ? 'gateway key' : 'agent token'}`, at: match.index });
  }
  for (const secret of secrets) {
    const at = text.indexOf(secret);
    if (at >= 0) found.push({ what: `the test secret ${secret.slice(0, 6)}…`, at });
  }
  return found.map(({ what, at }) => ({ what, line: text.slice(0, at).split('\n').length }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node scripts/check-log-secrets.mjs <log file>');
    process.exit(2);
  }
  const secrets = configuredTestSecrets();
  const found = secretsInLog(readFileSync(file, 'utf8'), secrets);
  if (found.length) {
    for (const { what, line } of found) console.error(`${file}:${line}: ${what}`);
    console.error(`The test log contains ${found.length} secret(s): a log line, error or response prints a credential.`);
    process.exit(1);
  }
  console.log(`No secrets in ${file} (checked the issued key and token shapes and ${secrets.length} test secrets).`);
}
