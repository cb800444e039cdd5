import { badRequest } from '../openai/errors';
import { patternProblem } from './model-patterns';

/** A key's limits; null = no limit. */
export interface KeyLimits {
  /** Requests per minute. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute, counted from each response's real usage. */
  tpm: number | null;
  /** Requests in flight at once. */
  max_concurrent: number | null;
  /** Spend per calendar month (UTC), in USD, from the price table (usage/prices.ts). */
  budget_usd: number | null;
}

export const NO_LIMITS: KeyLimits = { rpm: null, tpm: null, max_concurrent: null, budget_usd: null };
export const LIMIT_FIELDS = ['rpm', 'tpm', 'max_concurrent', 'budget_usd'] as const;

export interface CreateKeyRequest {
  name: string;
  /** null = every model. */
  models: string[] | null;
  /** ISO 8601 UTC, or null = never. */
  expiresAt: string | null;
  limits: KeyLimits;
}

/** PATCH /admin/keys/:id: only the fields present change; null clears a limit, the patterns or the expiry. */
export interface UpdateKeyRequest {
  name?: string;
  models?: string[] | null;
  expiresAt?: string | null;
  limits: Partial<KeyLimits>;
}

const FIELDS = ['name', 'models', 'expires_at', ...LIMIT_FIELDS];

/** A JSON object body with only the given fields; `what` names the thing they describe, e.g. "a key". */
export function parseObject(text: string, fields: readonly string[] = FIELDS, what = 'a key'): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
  const unknown = Object.keys(body).filter((k) => !fields.includes(k));
  if (unknown.length) throw badRequest(`Unknown field '${unknown[0]}'; ${what} takes ${fields.join(', ')}.`, unknown[0]);
  return body as Record<string, unknown>;
}

export function parseName(name: unknown): string {
  if (typeof name !== 'string' || !name.trim()) throw badRequest('name must be a non-empty string.', 'name');
  if (name.length > 100) throw badRequest('name must be at most 100 characters.', 'name');
  return name.trim();
}

function parseModels(models: unknown): string[] | null {
  if (models === null) return null;
  return parsePatterns(models, 'models must be a non-empty array of model names or patterns (e.g. ["gpt-4o", "anthropic/*"]); leave it out (or null) to allow every model.');
}

/** A non-empty array of model names or patterns; `problem` is the message when it is not an array or empty. */
export function parsePatterns(models: unknown, problem: string): string[] {
  if (!Array.isArray(models) || models.length === 0) throw badRequest(problem, 'models');
  models.forEach((pattern, i) => {
    const wrong = patternProblem(pattern);
    if (wrong) throw badRequest(`models[${i}] ${wrong}.`, `models[${i}]`);
  });
  return models as string[];
}

/** An ISO 8601 date or date-time (a date alone means its midnight UTC) or Unix seconds, in ms; NaN if neither. */
export function timeMs(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : NaN;
  if (typeof value !== 'string') return NaN;
  const text = value.trim();
  if (/^\d{1,12}$/.test(text)) return Number(text) * 1000;
  return /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
}

/**
 * The `expires_at` of a gateway key or an agent token: a time as timeMs reads it, in the
 * future (`what` is stopped now by revoking it), as ISO 8601 UTC; null = never.
 */
export function parseExpiry(expires: unknown, now: number, what = 'key'): string | null {
  if (expires === null) return null;
  const ms = timeMs(expires);
  if (!Number.isFinite(ms)) throw badRequest('expires_at must be an ISO 8601 date or date-time (e.g. "2027-01-01") or Unix seconds.', 'expires_at');
  if (ms <= now) throw badRequest(`expires_at is in the past; revoke the ${what} to stop it now.`, 'expires_at');
  return new Date(ms).toISOString();
}

const MAX_COUNT = 1_000_000_000;

/** A limit: a positive whole number (budget_usd: a non-negative amount), or null for none. */
function parseLimit(field: (typeof LIMIT_FIELDS)[number], value: unknown): number | null {
  if (value === null) return null;
  if (field === 'budget_usd') {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1e9) {
      throw badRequest('budget_usd must be a number of US dollars per month, 0 or more (null: no budget).', field);
    }
    return value;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
    throw badRequest(`${field} must be a whole number from 1 to ${MAX_COUNT} (null: no limit).`, field);
  }
  return value;
}

/** Validates the body of POST /admin/keys: `{"name", "models"?, "expires_at"?, "rpm"?, "tpm"?, "max_concurrent"?, "budget_usd"?}`. */
export function parseCreateKeyRequest(text: string, now: number): CreateKeyRequest {
  const body = parseObject(text);
  const name = parseName(body.name);
  const models = body.models === undefined ? null : parseModels(body.models);
  const expiresAt = body.expires_at === undefined ? null : parseExpiry(body.expires_at, now);
  const limits = { ...NO_LIMITS };
  for (const field of LIMIT_FIELDS) if (body[field] !== undefined) limits[field] = parseLimit(field, body[field]);
  return { name, models, expiresAt, limits };
}

/** Validates the body of PATCH /admin/keys/:id: any of the create fields; null clears. */
export function parseUpdateKeyRequest(text: string, now: number): UpdateKeyRequest {
  const body = parseObject(text);
  if (Object.keys(body).length === 0) throw badRequest(`Nothing to update: send any of ${FIELDS.join(', ')}.`);
  const update: UpdateKeyRequest = { limits: {} };
  if (body.name !== undefined) update.name = parseName(body.name);
  if (body.models !== undefined) update.models = parseModels(body.models);
  if (body.expires_at !== undefined) update.expiresAt = parseExpiry(body.expires_at, now);
  for (const field of LIMIT_FIELDS) if (body[field] !== undefined) update.limits[field] = parseLimit(field, body[field]);
  return update;
}
