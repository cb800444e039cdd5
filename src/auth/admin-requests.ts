import { badRequest } from '../openai/errors';
import { patternProblem } from './model-patterns';

export interface CreateKeyRequest {
  name: string;
  /** null = every model. */
  models: string[] | null;
  /** ISO 8601 UTC, or null = never. */
  expiresAt: string | null;
}

/**
 * Validates the body of POST /admin/keys: `{"name", "models"?, "expires_at"?}`.
 * `expires_at` is an ISO 8601 date or date-time (a date alone means its midnight UTC) or
 * Unix seconds, and must lie in the future.
 */
export function parseCreateKeyRequest(text: string, now: number): CreateKeyRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
  const { name, models, expires_at: expires, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown field '${unknown[0]}'; a key takes name, models and expires_at.`, unknown[0]);

  if (typeof name !== 'string' || !name.trim()) throw badRequest('name must be a non-empty string.', 'name');
  if (name.length > 100) throw badRequest('name must be at most 100 characters.', 'name');

  let patterns: string[] | null = null;
  if (models !== undefined && models !== null) {
    if (!Array.isArray(models) || models.length === 0) {
      throw badRequest('models must be a non-empty array of model names or patterns (e.g. ["gpt-4o", "anthropic/*"]); leave it out to allow every model.', 'models');
    }
    models.forEach((pattern, i) => {
      const problem = patternProblem(pattern);
      if (problem) throw badRequest(`models[${i}] ${problem}.`, `models[${i}]`);
    });
    patterns = models as string[];
  }

  let expiresAt: string | null = null;
  if (expires !== undefined && expires !== null) {
    const ms =
      typeof expires === 'number' && Number.isFinite(expires)
        ? expires * 1000
        : typeof expires === 'string' && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(expires.trim())
          ? Date.parse(expires.trim())
          : NaN;
    if (!Number.isFinite(ms)) throw badRequest('expires_at must be an ISO 8601 date or date-time (e.g. "2027-01-01") or Unix seconds.', 'expires_at');
    if (ms <= now) throw badRequest('expires_at is in the past.', 'expires_at');
    expiresAt = new Date(ms).toISOString();
  }
  return { name: name.trim(), models: patterns, expiresAt };
}
