// Access tokens (Entra ID) cached per credential for the isolate's lifetime: a token is
// used until REFRESH_MARGIN_MS before it expires, then replaced. One request for a new
// token is shared by every caller that needs it meanwhile (a burst of 200 requests at
// start-up asks once), and a refresh that fails while the old token is still valid keeps
// serving the old one, so a brief outage of the token source costs nothing.

export interface AccessToken {
  token: string;
  /** When it expires (ms since the epoch). */
  expiresAt: number;
}

/** Refresh this long before expiry (as @azure/identity does: 5 minutes). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

interface Entry {
  token?: AccessToken;
  pending?: Promise<AccessToken>;
}

const MAX_ENTRIES = 100;

export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly marginMs = REFRESH_MARGIN_MS,
  ) {}

  /**
   * The cached token for `key`, or a new one from `fetchToken` when it nears expiry.
   * `keepOnFailure: false` when the source's refusal is final (it already kept the old
   * token if it could: agent-credential.ts), so a refused token is not used on.
   */
  async get(key: string, fetchToken: () => Promise<AccessToken>, options: { keepOnFailure?: boolean } = {}): Promise<AccessToken> {
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, (entry = {}));
    }
    const now = this.now();
    const current = entry.token;
    if (current && now < current.expiresAt - this.marginMs) return current;
    let pending = entry.pending;
    if (!pending) {
      const e = entry;
      pending = e.pending = fetchToken()
        .then((token) => (e.token = token))
        .finally(() => {
          e.pending = undefined;
        });
    }
    try {
      return await pending;
    } catch (error) {
      if (options.keepOnFailure !== false && current && this.now() < current.expiresAt) return current;
      throw error;
    }
  }
}

/** The cache the Azure provider uses (per isolate). */
export const tokenCache = new TokenCache();
