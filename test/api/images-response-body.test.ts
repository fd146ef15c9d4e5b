import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imagesResponseBody } from '../../src/images/images-response-body.ts';
import type { ImagesResponse } from '../../src/images/images-response.ts';

describe('imagesResponseBody', () => {
  const cases: Array<[string, ImagesResponse]> = [
    [
      'b64 with usage',
      {
        created: 1,
        data: [{ b64_json: 'QUJD' }, { b64_json: 'REVG', revised_prompt: 'a "quoted" ünïcode prompt\n' }],
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
      const bytes = imagesResponseBody(body);
      assert.deepEqual(JSON.parse(bytes.toString('utf8')), JSON.parse(JSON.stringify(body)));
    });
  }
});
