import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { parseRoutingVar, readPolicyHeaders } from './retry-policy';

describe('parseRoutingVar', () => {
  it.each([
    [undefined, {}],
    ['', {}],
    [{ retries: 2, budget_ms: 5000 }, { retries: 2, budgetMs: 5000 }],
    ['{"backoff_base_ms":1,"backoff_max_ms":4,"first_byte_timeout_ms":50}', { backoffBaseMs: 1, backoffMaxMs: 4, firstByteTimeoutMs: 50 }],
    [{ cooldown_failures: 1, cooldown_window_ms: 0, cooldown_ms: 100, attempts_per_deployment: 1, response_timeout_ms: 0 }, { cooldownFailures: 1, cooldownWindowMs: 0, cooldownMs: 100, attemptsPerDeployment: 1, responseTimeoutMs: 0 }],
  ])('%j', (input, expected) => expect(parseRoutingVar(input as never)).toEqual(expected));

  it.each([
    ['not json', 'ROUTING is not valid JSON'],
    ['[1]', 'ROUTING must be a table'],
    [{ retry: 2 }, 'ROUTING.retry is not a routing setting'],
    [{ retries: 1.5 }, 'ROUTING.retries must be a number ≥ 0 (an integer)'],
    [{ retries: -1 }, 'ROUTING.retries must be'],
    [{ budget_ms: '5000' }, 'ROUTING.budget_ms must be a number ≥ 1'],
    [{ attempts_per_deployment: 0 }, 'ROUTING.attempts_per_deployment must be a number ≥ 1'],
  ])('%j → a named configuration error', (input, mentions) => {
    let error: unknown;
    try {
      parseRoutingVar(input as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('gateway_misconfigured');
    expect((error as GatewayError).message).toContain(mentions);
  });
});

describe('readPolicyHeaders', () => {
  it.each([
    [{}, {}],
    [{ 'x-switchboard-retries': '0' }, { retries: 0 }],
    [{ 'x-switchboard-retries': ' 7 ' }, { retries: 7 }],
    [{ 'x-switchboard-timeout': '2.5' }, { budgetMs: 2500 }],
    [{ 'x-switchboard-no-fallback': 'true' }, { fallback: false }],
    [{ 'x-switchboard-no-fallback': '1' }, { fallback: false }],
    [{ 'x-switchboard-no-fallback': 'false' }, { fallback: true }],
  ])('%j', (headers, expected) => expect(readPolicyHeaders(new Headers(headers))).toEqual(expected));

  it.each([
    ['x-switchboard-retries', '-1'],
    ['x-switchboard-retries', '11'],
    ['x-switchboard-retries', '1.5'],
    ['x-switchboard-retries', 'many'],
    ['x-switchboard-retries', ''],
    ['x-switchboard-timeout', '0'],
    ['x-switchboard-timeout', '601'],
    ['x-switchboard-timeout', 'soon'],
    ['x-switchboard-no-fallback', 'yes please'],
  ])('%s: %j → 400 naming the header', (name, value) => {
    let error: unknown;
    try {
      readPolicyHeaders(new Headers({ [name]: value }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect({ status: (error as GatewayError).status, param: (error as GatewayError).param }).toEqual({ status: 400, param: name });
  });
});
