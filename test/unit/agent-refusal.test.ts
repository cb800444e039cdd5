import { describe, expect, it } from 'vitest';
import { errorMessage, refusalAdvice } from '../../local-agent/src/tunnel.js';

// How the agent reports the gateway refusing its connection (local-agent/src/tunnel.js).

describe('errorMessage', () => {
  const cases: [name: string, body: string, expected: string][] = [
    ['an OpenAI-style error', JSON.stringify({ error: { message: 'This agent token has been revoked.', type: 'authentication_error', code: 'invalid_agent_token' } }), 'This agent token has been revoked.'],
    ['not JSON: the start of the body', '<html>Bad Gateway</html>', '<html>Bad Gateway</html>'],
    ['JSON without an error message', '{"detail":"nope"}', '{"detail":"nope"}'],
    ['empty', '', '(no body)'],
    ['a long message is cut at 300 characters', JSON.stringify({ error: { message: 'x'.repeat(500) } }), 'x'.repeat(300)],
  ];
  it.each(cases)('%s', (_name, body, expected) => expect(errorMessage(body)).toBe(expected));
});

describe('refusalAdvice', () => {
  it('403: the scope is the problem', () => expect(refusalAdvice(403)).toMatch(/^the token does not allow this model: .*agent-tokens create --models/));
  it('401: the token itself is the problem, and where it goes', () => expect(refusalAdvice(401)).toMatch(/^the token is unknown, revoked or expired: .*gateway\.token_env/));
});
