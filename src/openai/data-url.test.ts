import { describe, expect, it } from 'vitest';
import { checkImageDataUrlEnvelope, isHttpUrl, parseImageDataUrl, sniffImageMediaType } from './data-url';
import { GatewayError } from './errors';

// Image bytes as clients send them: headers of real PNG / JPEG / GIF / WebP files,
// labelled right or wrong, wrapped or not, and the ways a payload goes wrong.

const bytes = (...values: number[]) => new Uint8Array(values);
const base64Of = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

const PNG = bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...ascii('IHDR'), 0, 0, 0, 1, 0, 0, 0, 1);
const JPEG = bytes(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, ...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0);
const GIF87 = bytes(...ascii('GIF87a'), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x2c);
const GIF89 = bytes(...ascii('GIF89a'), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21);
const WEBP = bytes(...ascii('RIFF'), 0x24, 0, 0, 0, ...ascii('WEBPVP8 '), 0x18, 0, 0, 0, 0x30, 0x01);
const BMP = bytes(...ascii('BM'), 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0, 1, 0);
const WAV = bytes(...ascii('RIFF'), 0x24, 0, 0, 0, ...ascii('WAVEfmt '), 0x10, 0, 0, 0, 1, 0);

const LIMIT = 1024;
const url = (payload: string, header = 'image/png;base64') => `data:${header},${payload}`;

function errorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('sniffImageMediaType', () => {
  const cases: [name: string, input: Uint8Array, expected: string | null][] = [
    ['PNG', PNG, 'image/png'],
    ['JPEG (JFIF)', JPEG, 'image/jpeg'],
    ['JPEG (Exif)', bytes(0xff, 0xd8, 0xff, 0xe1, 0, 0), 'image/jpeg'],
    ['GIF87a', GIF87, 'image/gif'],
    ['GIF89a', GIF89, 'image/gif'],
    ['WebP', WEBP, 'image/webp'],
    ['BMP', BMP, null],
    ['RIFF that is WAVE audio', WAV, null],
    ['GIF with an unknown version', bytes(...ascii('GIF86a'), 0, 0), null],
    ['PNG signature cut short', PNG.subarray(0, 7), null],
    ['JPEG signature cut short', bytes(0xff, 0xd8), null],
    ['RIFF without the WEBP tag', WEBP.subarray(0, 10), null],
    ['text', new TextEncoder().encode('hello world, not an image'), null],
    ['nothing', bytes(), null],
  ];
  it.each(cases)('%s', (_name, input, expected) => expect(sniffImageMediaType(input)).toBe(expected));
});

describe('parseImageDataUrl', () => {
  const valid: [name: string, dataUrl: string, mediaType: string, base64: string][] = [
    ['PNG labelled PNG', url(base64Of(PNG)), 'image/png', base64Of(PNG)],
    ['PNG labelled image/jpeg (as screenshot tools do)', url(base64Of(PNG), 'image/jpeg;base64'), 'image/png', base64Of(PNG)],
    ['JPEG', url(base64Of(JPEG), 'image/jpeg;base64'), 'image/jpeg', base64Of(JPEG)],
    ['GIF87a', url(base64Of(GIF87), 'image/gif;base64'), 'image/gif', base64Of(GIF87)],
    ['GIF89a labelled image/png', url(base64Of(GIF89)), 'image/gif', base64Of(GIF89)],
    ['WebP labelled application/octet-stream', url(base64Of(WEBP), 'application/octet-stream;base64'), 'image/webp', base64Of(WEBP)],
    ['a header with parameters and upper-case BASE64', url(base64Of(PNG), 'image/png;name=a.png;BASE64'), 'image/png', base64Of(PNG)],
    ['no media type at all', url(base64Of(JPEG), ';base64'), 'image/jpeg', base64Of(JPEG)],
    ['base64 wrapped in 76-column CRLF lines', url(base64Of(PNG).replace(/(.{8})/g, '$1\r\n')), 'image/png', base64Of(PNG)],
    ['base64 with spaces and tabs', url(base64Of(JPEG).replace(/(.{4})/g, '$1 \t')), 'image/jpeg', base64Of(JPEG)],
    ['unpadded base64 (length 2 mod 4)', url(base64Of(bytes(...PNG, 1)).replace(/=+$/, '')), 'image/png', base64Of(bytes(...PNG, 1)).replace(/=+$/, '')],
    ['unpadded base64 (length 3 mod 4)', url(base64Of(bytes(...PNG, 1, 2)).replace(/=+$/, '')), 'image/png', base64Of(bytes(...PNG, 1, 2)).replace(/=+$/, '')],
  ];
  it.each(valid)('%s', (_name, dataUrl, mediaType, base64) => {
    expect(parseImageDataUrl(dataUrl, 'image', LIMIT)).toEqual({ mediaType, base64 });
  });

  const param = 'messages[0].content[1].image_url.url';
  const invalid: [name: string, dataUrl: string, status: number, code: string][] = [
    ['not a data: URL', base64Of(PNG), 400, 'invalid_image_url'],
    ['an https URL', 'https://example.com/a.png', 400, 'invalid_image_url'],
    ['no comma', 'data:image/png;base64', 400, 'invalid_image_url'],
    ['not base64 (percent-encoded data: URL)', 'data:image/png,%89PNG%0D%0A', 400, 'invalid_image_url'],
    ['base64 only as a parameter value', url(base64Of(PNG), 'image/png;encoding=base64'), 400, 'invalid_image_url'],
    ['empty payload', url(''), 400, 'invalid_image_url'],
    ['a character outside base64', url(`${base64Of(PNG).slice(0, 8)}!${base64Of(PNG).slice(9)}`), 400, 'invalid_image_url'],
    ['URL-safe base64 alphabet', url(base64Of(bytes(0xff, 0xd8, 0xff, 0xfb, 0xef, 0xbe)).replace(/\+/g, '-').replace(/\//g, '_')), 400, 'invalid_image_url'],
    // Deep in the payload, where the head check does not look: a quote or backslash could break out of the JSON string the serializers splice it into.
    ['a quote deep in the payload', url(`${base64Of(new Uint8Array([...PNG, ...new Uint8Array(300)])).slice(0, 200)}","x":"yy`), 400, 'invalid_image_url'],
    ['a backslash deep in the payload', url(`${base64Of(new Uint8Array([...PNG, ...new Uint8Array(300)])).slice(0, 200)}\\u0022AA`), 400, 'invalid_image_url'],
    ['length 1 mod 4', url(`${base64Of(PNG)}A`.replace(/=/g, '')), 400, 'invalid_image_url'],
    ['padding on a length not a multiple of 4 (short)', url('iVBORw0KGg='), 400, 'invalid_image_url'],
    ['padding on a length not a multiple of 4', url('AAAAAA='), 400, 'invalid_image_url'],
    ['three padding characters', url('AA==='), 400, 'invalid_image_url'],
    ['padding in the middle', url(`${base64Of(bytes(0x89, 0x50))}${base64Of(PNG)}`), 400, 'invalid_image_url'],
    ['a header longer than any real one', url(base64Of(PNG), `image/png;${'x'.repeat(300)};base64`), 400, 'invalid_image_url'],
    ['BMP', url(base64Of(BMP), 'image/bmp;base64'), 400, 'invalid_image_format'],
    ['text labelled as PNG', url(btoa('this is plainly not an image at all')), 400, 'invalid_image_format'],
    ['too short to recognise', url('iVBO'), 400, 'invalid_image_format'],
    ['over the size limit', url(base64Of(new Uint8Array(LIMIT + 1))), 413, 'request_too_large'],
  ];
  it.each(invalid)('%s', (_name, dataUrl, status, code) => {
    const error = errorOf(() => parseImageDataUrl(dataUrl, param, LIMIT));
    expect({ status: error.status, param: error.param, code: error.code }).toEqual({ status, param, code });
    expect(error.message).toContain(param);
  });

  it('leaves a stray character deep in the payload to the upstream (no per-character scan of megabytes)', () => {
    const big = base64Of(new Uint8Array([...PNG, ...new Uint8Array(300)]));
    const stray = `${big.slice(0, 200)}!${big.slice(201)}`;
    expect(parseImageDataUrl(url(stray), param, LIMIT).mediaType).toBe('image/png');
  });

  it('accepts an image of exactly the limit and refuses one byte more', () => {
    const at = bytes(...PNG, ...new Uint8Array(LIMIT - PNG.length));
    expect(parseImageDataUrl(url(base64Of(at)), 'image', LIMIT).mediaType).toBe('image/png');
    expect(errorOf(() => parseImageDataUrl(url(base64Of(bytes(...at, 0))), 'image', LIMIT)).status).toBe(413);
  });

  it('reports the decoded size, not the base64 length, when refusing', () => {
    const error = errorOf(() => parseImageDataUrl(url(base64Of(new Uint8Array(2000))), 'image', LIMIT));
    expect(error.message).toContain('2000 bytes');
    expect(error.message).toContain(`${LIMIT} bytes`);
  });
});

describe('checkImageDataUrlEnvelope', () => {
  it('accepts what parseImageDataUrl accepts', () => {
    expect(() => checkImageDataUrlEnvelope(url(base64Of(PNG), 'image/jpeg;base64'), 'p', LIMIT)).not.toThrow();
  });

  const cases: [name: string, dataUrl: string, status: number, code: string][] = [
    ['no comma', 'data:image/png;base64', 400, 'invalid_image_url'],
    ['not base64', 'data:image/png,abc', 400, 'invalid_image_url'],
    ['empty payload', url(''), 400, 'invalid_image_url'],
    ['over the limit by length', url('A'.repeat(4 * 400)), 413, 'request_too_large'],
  ];
  it.each(cases)('%s', (_name, dataUrl, status, code) => {
    const error = errorOf(() => checkImageDataUrlEnvelope(dataUrl, 'p', LIMIT));
    expect({ status: error.status, param: error.param, code: error.code }).toEqual({ status, param: 'p', code });
  });

  it('counts exactly near the limit, so line breaks do not push an image over', () => {
    const wrapped = base64Of(new Uint8Array(LIMIT)).replace(/(.{76})/g, '$1\n');
    expect(() => checkImageDataUrlEnvelope(url(wrapped), 'p', LIMIT)).not.toThrow();
    expect(errorOf(() => checkImageDataUrlEnvelope(url(base64Of(new Uint8Array(LIMIT + 1))), 'p', LIMIT)).status).toBe(413);
  });

  it('does not read the payload (left to the upstream or to parseImageDataUrl)', () => {
    expect(() => checkImageDataUrlEnvelope(url('!!!!not base64!!!!'), 'p', LIMIT)).not.toThrow();
  });
});

describe('isHttpUrl', () => {
  it.each([
    ['https://example.com/a.png', true],
    ['http://example.com/a.png', true],
    ['data:image/png;base64,AAAA', false],
    ['ftp://example.com/a.png', false],
  ] as const)('%s → %s', (input, expected) => expect(isHttpUrl(input)).toBe(expected));
});
