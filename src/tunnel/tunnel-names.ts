import type { Env } from '../env';

// Names the tunnel's Durable Object (model-object.ts) shares with the rest of the Worker.

/** The bindings the tunnel reads (src/env.ts): the Durable Object namespace, agent tokens, idle timeout. */
export type TunnelEnv = Pick<Env, 'ONPREM_MODELS' | 'AGENT_TOKENS' | 'AGENT_IDLE_TIMEOUT_MS'>;

export const REGISTRY = '__registry__';

/** How long an agent's socket may stay silent (no heartbeat, no frame) before the gateway closes it. */
export const agentIdleTimeoutMs = (env: Pick<Env, 'AGENT_IDLE_TIMEOUT_MS'>): number => Number(env.AGENT_IDLE_TIMEOUT_MS) || 45_000;
export const MODEL_HEADER = 'x-switchboard-onprem-model';
/** The id of the stored agent token an agent connected with (set by agent-connect.ts; absent for AGENT_TOKENS). */
export const AGENT_TOKEN_HEADER = 'x-switchboard-agent-token-id';
export const TUNNEL_ERROR_HEADER = 'x-switchboard-tunnel-error';
/** Set by the gateway when it counts this request's tokens: the agent asks a stream for its usage chunk (head.usage; local-agent/src/include-usage.js). */
export const INCLUDE_USAGE_HEADER = 'x-switchboard-include-usage';

/**
 * The engine's answer as the Worker receives it over RPC (call()): no Request or Response
 * is built on either side of the hop for a request held whole, the common case.
 */
export interface TunnelAnswer {
  status: number;
  headers: Record<string, string>;
  /** A whole answer (RESPONSE frame, or the tunnel's own error) as bytes; a streamed one as a stream. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}
