import { describe, expect, it } from 'vitest';
import { toLogprobs } from './logprobs';

describe('toLogprobs', () => {
  it.each([[undefined], [{}], [{ chosenCandidates: [] }]])('%j → null', (result) => {
    expect(toLogprobs(result)).toBeNull();
  });

  it('pairs each chosen token with its alternatives', () => {
    expect(
      toLogprobs({
        chosenCandidates: [
          { token: 'Hi', logProbability: -0.1 },
          { token: 'é', logProbability: -2 },
        ],
        topCandidates: [
          { candidates: [{ token: 'Hi', logProbability: -0.1 }, { token: 'Hello', logProbability: -2.5 }] },
          { candidates: [] },
        ],
      }),
    ).toEqual({
      content: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
            { token: 'Hello', logprob: -2.5, bytes: [72, 101, 108, 108, 111] },
          ],
        },
        { token: 'é', logprob: -2, bytes: [195, 169], top_logprobs: [] },
      ],
      refusal: null,
    });
  });
});
