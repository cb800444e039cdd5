import { screenshotPng } from './png.ts';

// The benchmark-style request of a multimodal agent step (DESIGN.md, "Who uses it"):
// a system prompt, six turns of history and the current step, three 256 px PNG screenshots sent as base64
// data URLs labelled image/jpeg (as clients do), and the usual sampling parameters.

export const SCREENSHOT_SIZE = 256;

export function screenshots(): Buffer[] {
  return [1, 2, 3].map((seed) => screenshotPng(SCREENSHOT_SIZE, seed));
}

const SYSTEM_PROMPT = [
  'You are a computer-use agent operating a desktop through screenshots.',
  'At each step you receive the task, the history of your previous actions and the current screen.',
  'Reply with exactly one action in the form ACTION(args) followed by a one-line justification.',
  'Available actions: CLICK(x, y), TYPE(text), SCROLL(dx, dy), KEY(name), WAIT(), DONE(answer).',
  'Coordinates are in pixels of the latest screenshot. Never invent UI elements that are not visible.',
].join('\n');

/** The OpenAI-format request body (without `model` / `stream`, which each case sets). */
export function benchmarkMessages(images: Buffer[]) {
  const image = (png: Buffer) => ({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${png.toString('base64')}` } });
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: [{ type: 'text', text: 'Task: open the settings window and enable dark mode. Step 1, current screen:' }, image(images[0])] },
    { role: 'assistant', content: 'CLICK(212, 33) The gear button in the toolbar opens settings.' },
    { role: 'user', content: [{ type: 'text', text: 'Step 2, current screen after your action:' }, image(images[1])] },
    { role: 'assistant', content: 'SCROLL(0, 240) The appearance section is below the visible area.' },
    { role: 'user', content: [{ type: 'text', text: 'Step 3, current screen after your action:' }, image(images[2])] },
    { role: 'assistant', content: 'CLICK(64, 140) This toggle is labelled "Dark mode".' },
  ];
}

export function benchmarkRequest(model: string, stream: boolean, images: Buffer[]): Record<string, unknown> {
  return {
    model,
    messages: [...benchmarkMessages(images), { role: 'user', content: 'Step 4: the toggle moved. Is the task done? Reply with one action.' }],
    temperature: 0.1,
    top_p: 0.95,
    frequency_penalty: 1,
    max_tokens: 4000,
    ...(stream ? { stream: true } : {}),
  };
}
