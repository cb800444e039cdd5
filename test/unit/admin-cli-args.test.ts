import { describe, expect, it } from 'vitest';
import { connection, DEFAULT_URL, helpText, parseCommandLine, UsageError } from '../../scripts/admin/args.mjs';
import { COMMANDS } from '../../scripts/admin/commands.mjs';

// The admin CLI's command line (scripts/admin/args.mjs): argv → command, id, flags.

const words = (line: string) => line.split(' ').filter(Boolean);

describe('parseCommandLine', () => {
  const ok: [line: string, expected: Record<string, unknown>][] = [
    ['keys list', { command: 'keys list', id: null, flags: {}, help: false, json: false }],
    ['keys list --json', { command: 'keys list', json: true }],
    ['keys show key_1', { command: 'keys show', id: 'key_1' }],
    ['keys create --name alice --models gpt-4o,anthropic/* --rpm 60', { command: 'keys create', flags: { name: 'alice', models: 'gpt-4o,anthropic/*', rpm: '60' } }],
    ['keys create --name=alice --budget=50', { command: 'keys create', flags: { name: 'alice', budget: '50' } }],
    ['keys update key_1 --rpm none', { command: 'keys update', id: 'key_1', flags: { rpm: 'none' } }],
    ['--url http://gw:8787 keys revoke key_1', { command: 'keys revoke', id: 'key_1', url: 'http://gw:8787' }],
    ['keys rotate key_1 --admin-token t0k', { command: 'keys rotate', id: 'key_1', adminToken: 't0k', flags: {} }],
    ['usage', { command: 'usage', flags: {} }],
    ['usage --by model --since 7d --json', { command: 'usage', flags: { by: 'model', since: '7d' }, json: true }],
    ['agent-tokens create --name box1 --models qwen-*', { command: 'agent-tokens create', flags: { name: 'box1', models: 'qwen-*' } }],
    ['agent-tokens revoke atk_1', { command: 'agent-tokens revoke', id: 'atk_1' }],
    ['--help', { command: null, help: true }],
    ['-h', { command: null, help: true }],
    ['help', { command: null, help: true }],
    ['keys --help', { command: null, help: true }],
    ['help keys create', { command: 'keys create', help: true }],
    ['keys create --help', { command: 'keys create', help: true }],
    ['keys show --help', { command: 'keys show', help: true, id: null }],
    ['keys update key_1 --budget -5', { command: 'keys update', flags: { budget: '-5' } }],
    ['keys create -- --name', { command: 'keys create', help: false }],
  ];
  it.each(ok)('%s', (line, expected) => {
    if (line === 'keys create -- --name') {
      // After `--` nothing is a flag: "--name" is a stray argument.
      expect(() => parseCommandLine(words(line))).toThrow(/unexpected argument "--name"/);
      return;
    }
    expect(parseCommandLine(words(line))).toMatchObject(expected);
  });

  const bad: [line: string, message: RegExp][] = [
    ['', /^no command given$/],
    ['kyes list', /^unknown command "kyes"$/],
    ['keys', /^keys needs a subcommand: create, list, show, update, revoke, rotate$/],
    ['keys delete key_1', /^unknown command "keys delete"; keys takes create, list/],
    ['keys show', /^keys show needs ID/],
    ['keys list extra', /^unexpected argument "extra" for keys list$/],
    ['keys list --rpm 5', /^unknown option --rpm for keys list$/],
    ['keys create --name a --colour red', /^unknown option --colour$/],
    ['keys create --name a --by key', /^unknown option --by for keys create$/],
    ['usage --name x', /^unknown option --name for usage$/],
    ['keys create --models x', /^keys create needs --name$/],
    ['agent-tokens create --name box', /^agent-tokens create needs --models$/],
    ['keys create --name', /^--name needs a value$/],
    ['keys create --name --rpm 5', /^--name needs a value$/],
    ['keys create --name a --name b', /^--name is given twice$/],
    ['keys list --json=yes', /^--json takes no value$/],
    ['keys list -x', /^unknown option -x$/],
  ];
  it.each(bad)('%s → UsageError', (line, message) => {
    let error: unknown;
    try {
      parseCommandLine(words(line));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });

  it('a flag value may contain "=" and spaces', () => {
    expect(parseCommandLine(['keys', 'create', '--name=a=b', '--models', 'gpt-4o, claude-*']).flags).toEqual({ name: 'a=b', models: 'gpt-4o, claude-*' });
  });
});

describe('connection', () => {
  const parsed = (url: string | null, adminToken: string | null) => ({ url, adminToken });
  const cases: [name: string, flags: ReturnType<typeof parsed>, env: Record<string, string>, expected: unknown][] = [
    ['defaults: npm start\'s address, no token', parsed(null, null), {}, { url: DEFAULT_URL, adminToken: null }],
    ['from the environment', parsed(null, null), { SWITCHBOARD_URL: 'https://gw.example/', SWITCHBOARD_ADMIN_TOKEN: ' t ' }, { url: 'https://gw.example', adminToken: 't' }],
    ['flags win over the environment', parsed('http://a:1', 'flag'), { SWITCHBOARD_URL: 'http://b:2', SWITCHBOARD_ADMIN_TOKEN: 'env' }, { url: 'http://a:1', adminToken: 'flag' }],
    ['an empty token is none', parsed(null, null), { SWITCHBOARD_ADMIN_TOKEN: '  ' }, { url: DEFAULT_URL, adminToken: null }],
  ];
  it.each(cases)('%s', (_name, flags, env, expected) => expect(connection(flags, env)).toEqual(expected));
  it('refuses a URL that is not http(s)', () => expect(() => connection(parsed('gw.example', null), {})).toThrow(UsageError));
});

describe('helpText', () => {
  it('the overview lists every command', () => {
    const text = helpText(null);
    for (const command of Object.keys(COMMANDS)) expect(text).toContain(`  ${command}`);
    expect(text).toContain('--admin-token TOKEN');
  });
  it.each(Object.keys(COMMANDS))('%s --help lists its options', (command) => {
    const text = helpText(command);
    expect(text).toMatch(new RegExp(`^usage: npm run admin -- ${command}`));
    for (const flag of Object.keys((COMMANDS as any)[command].flags ?? {})) expect(text).toContain(`--${flag}`);
  });
});
