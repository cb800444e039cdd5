// Parsing the admin CLI's command line: pure, no I/O (tested in test/unit/admin-cli-args.test.ts).

import { COMMANDS, GLOBAL_FLAGS, GROUPS } from './commands.mjs';

export const DEFAULT_URL = 'http://127.0.0.1:8787';

/** A mistake on the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message, command = null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

const BOOLEAN_FLAGS = new Set(['json', 'help']);
/** Every flag some command takes: any other is unknown before the command is even known. */
const KNOWN_FLAGS = new Set([...Object.keys(GLOBAL_FLAGS), ...Object.values(COMMANDS).flatMap((c) => Object.keys(c.flags ?? {}))]);

/**
 * argv (after `node scripts/admin.mjs`) → { command, id, flags, help, json, url, adminToken }.
 * `command` is a key of COMMANDS, or null with help=true for the overview. Flags are
 * `--name value` or `--name=value`; `-h` is --help; values stay strings (requests.mjs
 * converts them). Throws UsageError for an unknown command or flag, a missing value or
 * argument, a flag given twice.
 */
export function parseCommandLine(argv) {
  const words = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      flags.help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) throw new UsageError(`unknown option ${arg}`);
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!name) throw new UsageError(`malformed option ${arg}`);
    if (!KNOWN_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    if (name in flags) throw new UsageError(`--${name} is given twice`);
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    if (eq >= 0) {
      flags[name] = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`--${name} needs a value`);
      flags[name] = next;
      i++;
    }
  }

  // `help`, `help keys create`: the same as --help.
  if (words[0] === 'help') {
    words.shift();
    flags.help = true;
  }
  const help = flags.help === true;
  const command = resolveCommand(words, help);
  if (command === null) return { command: null, id: null, flags: {}, help: true, json: false, url: flags.url ?? null, adminToken: flags['admin-token'] ?? null };

  const spec = COMMANDS[command];
  const rest = words.slice(command.split(' ').length);
  const expected = spec.args ?? [];
  if (!help) {
    if (rest.length < expected.length) throw new UsageError(`${command} needs ${expected.join(' ')} (e.g. ${command} ${command.startsWith('agent') ? 'atk_…' : 'key_…'})`, command);
    if (rest.length > expected.length) throw new UsageError(`unexpected argument "${rest[expected.length]}" for ${command}`, command);
  }
  const own = {};
  for (const [name, value] of Object.entries(flags)) {
    if (name in GLOBAL_FLAGS) continue;
    if (!spec.flags || !(name in spec.flags)) throw new UsageError(`unknown option --${name} for ${command}`, command);
    own[name] = value;
  }
  if (!help) {
    for (const name of spec.required ?? []) if (own[name] === undefined) throw new UsageError(`${command} needs --${name}`, command);
  }
  return { command, id: rest[0] ?? null, flags: own, help, json: flags.json === true, url: flags.url ?? null, adminToken: flags['admin-token'] ?? null };
}

function resolveCommand(words, help) {
  if (words.length === 0) {
    if (help) return null;
    throw new UsageError('no command given');
  }
  const [group, sub] = words;
  if (!GROUPS.includes(group)) throw new UsageError(`unknown command "${group}"`);
  if (group in COMMANDS) return group; // usage: one word
  const subcommands = Object.keys(COMMANDS).filter((c) => c.startsWith(`${group} `)).map((c) => c.split(' ')[1]);
  if (sub === undefined) {
    if (help) return null;
    throw new UsageError(`${group} needs a subcommand: ${subcommands.join(', ')}`);
  }
  if (!subcommands.includes(sub)) throw new UsageError(`unknown command "${group} ${sub}"; ${group} takes ${subcommands.join(', ')}`);
  return `${group} ${sub}`;
}

/** Where to connect and with what: flags first, then the environment, then the default URL. */
export function connection(parsed, env) {
  const url = (parsed.url ?? env.SWITCHBOARD_URL ?? DEFAULT_URL).trim().replace(/\/+$/, '');
  const adminToken = (parsed.adminToken ?? env.SWITCHBOARD_ADMIN_TOKEN ?? '').trim() || null;
  if (!/^https?:\/\/[^/\s]+/.test(url)) throw new UsageError(`the gateway URL "${url}" is not an http(s) URL`);
  return { url, adminToken };
}

/** --help text: the overview (command null) or one command's usage and flags. */
export function helpText(command) {
  const flagLines = (flags) => {
    const entries = Object.entries(flags).map(([name, f]) => [`--${name}${f.value ? ` ${f.value}` : ''}`, f.help]);
    const width = Math.max(...entries.map(([left]) => left.length));
    return entries.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`);
  };
  if (command === null) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    return [
      'usage: npm run admin -- <command> [options]',
      '',
      'Manages a Switchboard gateway through its admin API (/admin/…).',
      '',
      'commands:',
      ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
      '',
      'options for every command:',
      ...flagLines(GLOBAL_FLAGS),
      '',
      'Run `npm run admin -- <command> --help` for a command\'s options.',
    ].join('\n');
  }
  const spec = COMMANDS[command];
  const args = (spec.args ?? []).map((a) => ` ${a}`).join('');
  const lines = [`usage: npm run admin -- ${command}${args}${spec.flags ? ' [options]' : ''}`, '', `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`];
  if (spec.flags) {
    lines.push('', 'options:', ...flagLines(spec.flags));
    if (spec.required?.length) lines.push(`  (required: ${spec.required.map((r) => `--${r}`).join(', ')})`);
  }
  if (spec.example) lines.push('', 'example:', `  npm run admin -- ${spec.example}`);
  lines.push('', 'options for every command:', ...flagLines(GLOBAL_FLAGS));
  return lines.join('\n');
}
