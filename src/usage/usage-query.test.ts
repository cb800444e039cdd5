import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import { monthStart, parseUsageQuery } from './usage-query';

const NOW = Date.parse('2026-11-26T12:00:00Z');

describe('parseUsageQuery', () => {
  const ok: [query: string, expected: ReturnType<typeof parseUsageQuery>][] = [
    ['', { filter: { since: '2026-11-01T00:00:00.000Z' }, groupBy: 'key' }],
    ['group_by=model', { filter: { since: '2026-11-01T00:00:00.000Z' }, groupBy: 'model' }],
    ['group_by=day&since=2026-10-01&until=2026-10-15', { filter: { since: '2026-10-01T00:00:00.000Z', until: '2026-10-15T00:00:00.000Z' }, groupBy: 'day' }],
    ['since=1798761600', { filter: { since: '2027-01-01T00:00:00.000Z' }, groupBy: 'key' }],
    ['since=2026-11-20T10:00:00%2B02:00', { filter: { since: '2026-11-20T08:00:00.000Z' }, groupBy: 'key' }],
    ['key=key_abc&model=gpt-4o', { filter: { since: '2026-11-01T00:00:00.000Z', keyId: 'key_abc', model: 'gpt-4o' }, groupBy: 'key' }],
  ];
  it.each(ok)('%j', (query, expected) => expect(parseUsageQuery(new URLSearchParams(query), NOW)).toEqual(expected));

  const bad: [query: string, param: string][] = [
    ['group_by=user', 'group_by'],
    ['since=yesterday', 'since'],
    ['until=2026-13-45', 'until'],
    ['since=2026-11-10&until=2026-11-01', 'until'],
    ['since=2026-11-10&until=2026-11-10', 'until'],
    ['by=key', 'by'],
  ];
  it.each(bad)('%j → 400 naming %s', (query, param) => {
    let error: unknown;
    try {
      parseUsageQuery(new URLSearchParams(query), NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, param });
  });

  it('monthStart', () => {
    expect(monthStart(Date.parse('2026-12-31T23:59:59Z'))).toBe('2026-12-01T00:00:00.000Z');
    expect(monthStart(Date.parse('2027-01-01T00:00:00Z'))).toBe('2027-01-01T00:00:00.000Z');
  });
});
