import { adaptRequest } from '../capabilities/adapt-request';
import { capabilitiesFor } from '../capabilities/capabilities-for';
import { strictNotes } from '../capabilities/strict-notes';
import type { Env } from '../env';
import { GatewayError } from '../openai/errors';
import type { ChatCompletionRequest } from '../openai/types';
import { providers } from '../providers';
import type { ProviderResult, RequestNotes } from '../providers/provider';
import type { Target } from './catalog';

export interface CallContext {
  env: Env;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  maxImageBytes: number;
  /** See ProviderCall.streamIdleTimeoutMs (the routing policy's stream_idle_timeout_ms). */
  streamIdleTimeoutMs?: number;
  /** See ProviderCall.watchPassThroughStreams. */
  watchPassThroughStreams?: boolean;
  /** `x-switchboard-strict: true`: what would be adapted to the target is a 400 instead. */
  strict?: boolean;
}

export interface TargetResult {
  result: ProviderResult;
  /** What was dropped or adapted for this target (headers of the response). */
  notes: RequestNotes;
}

/**
 * One attempt: the request sent to one deployment. Everything that depends on the
 * target (its provider, credentials, and what that model accepts) happens here, so a
 * router trying several deployments calls this once per attempt.
 */
export async function callTarget(request: ChatCompletionRequest, target: Target, context: CallContext): Promise<TargetResult> {
  const provider = providers[target.provider];
  if (!provider.isConfigured(context.env, target.options)) {
    throw new GatewayError(
      503,
      `The model '${target.name}' is served by ${target.provider}, which has no credentials configured on this gateway.`,
      'server_error',
      'model',
      'provider_not_configured',
    );
  }
  const strict = context.strict === true;
  // Fitted to this model (capabilities/): the providers then translate what it accepts.
  const adapted = adaptRequest(request, capabilitiesFor(target), { strict, model: target.name });
  const notes: RequestNotes = strict ? strictNotes(target.name) : adapted.notes;
  const result = await provider.chatCompletion({
    request: adapted.request,
    target,
    notes,
    env: context.env,
    signal: context.signal,
    maxImageBytes: context.maxImageBytes,
    streamIdleTimeoutMs: context.streamIdleTimeoutMs ?? 0,
    watchPassThroughStreams: context.watchPassThroughStreams ?? false,
  });
  return { result, notes };
}
