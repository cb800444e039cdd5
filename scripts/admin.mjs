#!/usr/bin/env node
// The admin CLI: `npm run admin -- <command> …` (`--help` lists the commands). Calls the
// gateway's admin API (/admin/…) with the ADMIN_TOKEN; plain ESM for Node 20, no build.
// Parsing, request building and formatting are pure modules under scripts/admin/; this
// file does the I/O. Exit codes: 0 done, 1 failed (gateway unreachable, API error, no
// token), 2 command-line mistake. The admin token is never printed.

import { connection, DEFAULT_URL, helpText, parseCommandLine, UsageError } from './admin/args.mjs';
import { renderResult, secretField } from './admin/format.mjs';
import { buildRequest } from './admin/requests.mjs';

const TIMEOUT_MS = 120_000;
const print = (text) => process.stdout.write(`${text}\n`);
const fail = (text) => process.stderr.write(`admin: ${text}\n`);

async function main(argv, env) {
  let parsed;
  let conn;
  let request;
  try {
    parsed = parseCommandLine(argv);
    if (parsed.help) {
      print(helpText(parsed.command));
      return 0;
    }
    conn = connection(parsed, env);
    request = buildRequest(parsed, Date.now());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    fail(`${error.message}\nRun \`npm run admin -- ${error.command ? `${error.command} ` : ''}--help\` for usage.`);
    return 2;
  }
  if (!conn.adminToken) {
    fail("no admin token: set SWITCHBOARD_ADMIN_TOKEN (or pass --admin-token) to the gateway's ADMIN_TOKEN secret.");
    return 1;
  }

  let res;
  try {
    res = await fetch(`${conn.url}${request.path}`, {
      method: request.method,
      headers: { authorization: `Bearer ${conn.adminToken}`, accept: 'application/json', ...(request.body ? { 'content-type': 'application/json' } : {}) },
      body: request.body ? JSON.stringify(request.body) : undefined,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const why = error.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (error.cause?.code ?? error.cause?.message ?? error.message);
    fail(
      `cannot reach the gateway at ${conn.url} (${why}). Is it running? \`npm start\` serves ${DEFAULT_URL}; point elsewhere with --url or SWITCHBOARD_URL.`,
    );
    return 1;
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const what = `${request.method} ${request.path.split('?')[0]}`;
  if (!res.ok) {
    const apiError = body?.error;
    const message = typeof apiError?.message === 'string' ? apiError.message : `${text.slice(0, 200) || '(empty body)'}`;
    fail(`the gateway answered ${res.status} to ${what}: ${message}${apiError?.param ? ` (field: ${apiError.param})` : ''}`);
    return 1;
  }
  if (body === undefined) {
    fail(`the gateway answered ${res.status} to ${what} with a body that is not JSON; is ${conn.url} a Switchboard gateway?`);
    return 1;
  }

  const secret = secretField(parsed.command);
  if (parsed.json) {
    print(JSON.stringify(body, null, 2));
    if (secret) process.stderr.write(`The ${secret} in this output is shown only this once: store it now.\n`);
  } else {
    const disconnected = res.headers.get('x-switchboard-agents-disconnected');
    print(renderResult(parsed.command, body, { now: Date.now(), url: conn.url, disconnected: disconnected === null ? null : Number(disconnected) }));
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2), process.env);
