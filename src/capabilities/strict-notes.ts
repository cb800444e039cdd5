import { badRequest } from '../openai/errors';
import type { RequestNotes } from '../providers/provider';

// Strict mode for the providers' own translations (Claude's API version dropping
// temperature, a stop sequence Claude refuses, …): they report every change through
// call.notes before anything is sent upstream, so notes that refuse to record a
// change turn each one into a 400 naming it, without each provider knowing about
// strict mode.

class RefusingList extends Array<string> {
  static override get [Symbol.species]() {
    return Array;
  }

  constructor(
    private readonly kind: 'drop' | 'change',
    private readonly model: string,
  ) {
    super();
  }

  override push(...items: string[]): number {
    if (items.length === 0) return this.length;
    throw badRequest(
      `x-switchboard-strict is set, and the model '${this.model}' needs these changes to the request: ${this.kind} ${items.join(', ')} (its API has no counterpart or refuses the value).`,
      items[0].split(/[=[.]/)[0],
      'strict_adaptation_refused',
    );
  }
}

/** Notes that throw a 400 as soon as a translation records a change. */
export function strictNotes(model: string): RequestNotes {
  return { dropped: new RefusingList('drop', model), adapted: new RefusingList('change', model) };
}
