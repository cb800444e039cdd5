import { GatewayError } from '../openai/errors';
import type { TargetResult } from './call-target';
import type { Deployment, Route, Target } from './catalog';
import { classifyFailure } from './classify-failure';
import type { CooldownStore } from './cooldown';
import { awaitFirstChunk, FirstByteTimeout } from './first-chunk';
import { retryDelayMs } from './retry-delay';
import type { RetryPolicy } from './retry-policy';
import { selectDeployment } from './select-deployment';

// The IO loop around the pure pieces: pick a deployment (select-deployment), call it
// (callTarget: one attempt), judge a failure (classify-failure), wait (retry-delay),
// and record health (cooldown). A stream is retried until its first byte is on its way
// to the client; after that it is the client's, failures included.

export interface RouterDeps {
  /** One attempt against one deployment (callTarget). */
  call(target: Target, signal: AbortSignal): Promise<TargetResult>;
  cooldowns: CooldownStore;
  random: () => number;
  now: () => number;
  /** Resolves after ms, rejects when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export interface AttemptRecord {
  deployment: string;
  /** The failure's status and code, or 'ok'. */
  outcome: string;
}

export interface RoutedResult extends TargetResult {
  deployment: Deployment;
  attempts: AttemptRecord[];
}

/** Headers that say what the router did, on success and on failure. */
export function routingHeaders(deployment: string | undefined, attempts: number): Record<string, string> {
  const headers: Record<string, string> = { 'x-switchboard-attempts': String(attempts) };
  if (deployment) headers['x-switchboard-deployment'] = deployment;
  return headers;
}

export async function routeRequest(
  route: Route,
  policy: RetryPolicy,
  stream: boolean,
  clientSignal: AbortSignal,
  deps: RouterDeps,
): Promise<RoutedResult> {
  const started = deps.now();
  const deadline = started + policy.budgetMs;
  const keys = route.deployments.map((d) => d.key);
  const failures = new Map<string, number>();
  const excluded = new Set<string>();
  const attempts: AttemptRecord[] = [];
  let pinned: string | undefined;
  let last: { deployment: Deployment; error: GatewayError; retryAfterMs?: number } | undefined;

  const fail = (error: GatewayError): GatewayError =>
    new GatewayError(error.status, error.message, error.type, error.param, error.code, {
      ...error.headers,
      ...routingHeaders(last?.deployment.label, attempts.length),
    });

  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (clientSignal.aborted) throw clientGone();
    const health = await deps.cooldowns.read(keys, deps.now());
    const selection = selectDeployment({ deployments: route.deployments, excluded, failures, health, now: deps.now(), random: deps.random, pinned });
    if (!selection) break;
    const { deployment } = selection;
    if (attempt > 0) {
      const wait = retryDelayMs({
        retryIndex: attempt - 1,
        sameDeployment: deployment.label === last?.deployment.label,
        retryAfterMs: last?.retryAfterMs,
        coolingMs: selection.coolingMs,
        policy,
        random: deps.random,
      });
      // Waiting past the budget would only delay the same answer.
      if (deps.now() + wait >= deadline) break;
      if (wait > 0) {
        try {
          await deps.sleep(wait, clientSignal);
        } catch {
          throw clientGone();
        }
      }
    } else if (selection.coolingMs > 0 && policy.retries > 0) {
      // Every deployment asked to be left alone for a while. Waiting is a retry in
      // disguise: a request that allows none asks the upstream now and gets its answer.
      if (deps.now() + selection.coolingMs >= deadline) {
        throw fail(allResting(route.name, selection.coolingMs));
      }
      try {
        await deps.sleep(selection.coolingMs, clientSignal);
      } catch {
        throw clientGone();
      }
    }
    if (!policy.fallback) pinned = deployment.label;

    const attemptStart = deps.now();
    const remaining = deadline - attemptStart;
    if (remaining <= 0) break;
    const controller = new AbortController();
    const abortAttempt = () => controller.abort();
    clientSignal.addEventListener('abort', abortAttempt, { once: true });
    const firstByteMs = Math.min(deployment.firstByteTimeoutMs ?? policy.firstByteTimeoutMs, remaining);
    const responseMs = Math.min(stream ? firstByteMs : policy.responseTimeoutMs || remaining, remaining);
    try {
      const result = await withTimeout(deps.call(deployment.target, controller.signal), responseMs, controller);
      if (result.result.stream && !result.result.started) {
        const body = await awaitFirstChunk(result.result.body, Math.max(1, firstByteMs - (deps.now() - attemptStart)), controller.signal);
        result.result = { stream: true, body };
      } else if (!result.result.stream) {
        // The answer is complete: nothing left for the client's disconnect to abort.
        clientSignal.removeEventListener('abort', abortAttempt);
      }
      // A started stream keeps the link: the client leaving mid-stream aborts the attempt's signal, which the stream listens to.
      attempts.push({ deployment: deployment.label, outcome: 'ok' });
      await deps.cooldowns.success(deployment.key);
      return { ...result, deployment, attempts };
    } catch (thrown) {
      controller.abort();
      clientSignal.removeEventListener('abort', abortAttempt);
      if (clientSignal.aborted) throw clientGone();
      const error = toGatewayError(thrown, deployment);
      const { verdict, retryAfterMs } = classifyFailure(error);
      attempts.push({ deployment: deployment.label, outcome: `${error.status} ${error.code ?? error.type}` });
      last = { deployment, error, retryAfterMs };
      if (verdict === 'final') throw fail(error);
      await deps.cooldowns.failure(deployment.key, deps.now(), policy, retryAfterMs);
      const count = (failures.get(deployment.label) ?? 0) + 1;
      failures.set(deployment.label, count);
      // Giving up on a deployment is a fallback: only when there is somewhere else to go.
      const elsewhere = !pinned && route.deployments.some((d) => d.label !== deployment.label && !excluded.has(d.label));
      if (verdict === 'next_deployment' || (count >= policy.attemptsPerDeployment && elsewhere)) excluded.add(deployment.label);
    }
  }
  if (last) throw fail(last.error);
  throw fail(new GatewayError(504, `No deployment of '${route.name}' could be tried within the request's time budget.`, 'upstream_error', null, 'upstream_timeout'));
}

function toGatewayError(thrown: unknown, deployment: Deployment): GatewayError {
  if (thrown instanceof GatewayError) return thrown;
  if (thrown instanceof FirstByteTimeout || thrown instanceof AttemptTimeout) {
    return new GatewayError(504, `${deployment.label} timed out (${thrown.message}).`, 'upstream_error', null, 'upstream_timeout');
  }
  // Anything else is the gateway's own failure: not retried, reported by the app as a 500.
  throw thrown;
}

function allResting(name: string, ms: number): GatewayError {
  const seconds = Math.ceil(ms / 1000);
  return new GatewayError(
    429,
    `Every deployment of '${name}' is rate limited; the first is ready again in ${seconds} s, past this request's time budget.`,
    'rate_limit_error',
    null,
    'rate_limit_exceeded',
    { 'retry-after': String(seconds) },
  );
}

/** The client went away: nobody reads this, but the handler must stop. */
function clientGone(): GatewayError {
  return new GatewayError(499, 'The client closed the request.', 'invalid_request_error', null, 'client_closed_request');
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new AttemptTimeout(ms));
          controller.abort();
        }, ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    // A call that settles after losing the race must not surface as an unhandled rejection.
    promise.catch(() => {});
  }
}

/** setTimeout that ends early (rejecting) when the signal aborts: a client that leaves does not wait out a backoff. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
