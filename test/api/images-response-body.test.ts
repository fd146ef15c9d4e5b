import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imagesResponseBody } from '../../src/images/images-response-body.ts';
import type { ImagesResponse } from '../../src/images/images-response.ts';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** The body as JSON.stringify would write it, with each image's bytes as the text they are. */
function asJson(body: ImagesResponse): unknown {
  const data = body.data.map((item) => ('b64_json' in item ? { ...item, b64_json: item.b64_json.toString('latin1') } : item));
  return JSON.parse(JSON.stringify({ ...body, data }));
}

describe('imagesResponseBody', () => {
  const cases: Array<[string, ImagesResponse]> = [
    [
      'b64 with usage',
      {
        created: 1,
        data: [{ b64_json: ascii('QUJD') }, { b64_json: ascii('REVG'), revised_prompt: 'a "quoted" ünïcode prompt\n' }],
        background: 'opaque',
        output_format: 'png',
        quality: 'low',
        size: '1024x1024',
        usage: { input_tokens: 1, input_tokens_details: { text_tokens: 1, image_tokens: 0 }, output_tokens: 2, total_tokens: 3 },
      },
    ],
    ['urls with revised prompts', { created: 2, data: [{ url: 'http://x/files/a?b=c&d=e', revised_prompt: 'p' }] }],
    ['no images', { created: 3, data: [] }],
  ];
  for (const [name, body] of cases) {
    it(`parses to what JSON.stringify would give: ${name}`, () => {
      const parts = imagesResponseBody(body);
      assert.deepEqual(JSON.parse(Buffer.concat(parts).toString('utf8')), asJson(body));
    });
  }

  it("writes each image's bytes as a piece of its own, not a copy", () => {
    const image = ascii('QUJDREVG');
    const parts = imagesResponseBody({ created: 1, data: [{ b64_json: image }] });
    assert.ok(parts.some((part) => part === image));
  });
});
