import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Catalog, MODELS } from '../../src/catalog/index.ts';
import { editFieldsFromForm, editFieldsFromJson, resolveEditSize, validateEditFields, validateEditImages } from '../../src/contract/edit.ts';
import { validateGeneration } from '../../src/contract/generation.ts';
import { type Form, formBoolean, formInteger } from '../../src/contract/multipart.ts';
import { GatewayError } from '../../src/errors.ts';
import { estimateImageInputTokens } from '../../src/images/request-cost.ts';
import { fakePng } from '../fakes/fake-images.ts';

const catalog = new Catalog(MODELS);
const contract = { catalog, defaultModel: 'gpt-image-1.5', unsupportedParams: 'error' as const };

function model(id: string) {
  const spec = catalog.get(id);
  assert.ok(spec !== undefined);
  return spec;
}

function form(fields: Record<string, string | string[]>, files: Array<[string, Buffer, string?]> = []): Form {
  return {
    fields: new Map(Object.entries(fields).map(([name, value]) => [name, Array.isArray(value) ? value : [value]])),
    files: files.map(([field, bytes, filename]) => ({ field, bytes, filename: filename ?? `${field}.png`, contentType: 'application/octet-stream' })),
    digest: '',
  };
}

function refused(fn: () => unknown, code: string, param: string | null, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.param, param, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

async function refusedAsync(promise: Promise<unknown>, code: string, param: string | null, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.param, param, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('form coercion', () => {
  it('takes whole numbers and booleans as SDKs send them, nothing looser', () => {
    assert.equal(formInteger('n', '2'), 2);
    assert.equal(formInteger('n', '-1'), -1);
    assert.equal(formInteger('n', undefined), undefined);
    refused(() => formInteger('n', '2.5'), 'invalid_value', 'n');
    for (const text of ['two', ' 2', '2 ', '02', '', '0x2', '1e3']) refused(() => formInteger('n', text), 'invalid_type', 'n');
    assert.equal(formBoolean('stream', 'true'), true);
    assert.equal(formBoolean('stream', 'false'), false);
    for (const text of ['TRUE', '1', 'yes', '']) refused(() => formBoolean('stream', text), 'invalid_type', 'stream');
  });
});

describe('multipart edit fields', () => {
  const png = Buffer.from('x');
  it('names images as sent: image, image[0…] for repeats and image[], image[N] as numbered', () => {
    assert.deepEqual(
      editFieldsFromForm(form({ prompt: 'p' }, [['image', png]])).images.map((i) => i.param),
      ['image'],
    );
    assert.deepEqual(
      editFieldsFromForm(
        form({ prompt: 'p' }, [
          ['image', png],
          ['image', png],
        ]),
      ).images.map((i) => i.param),
      ['image[0]', 'image[1]'],
    );
    assert.deepEqual(
      editFieldsFromForm(
        form({ prompt: 'p' }, [
          ['image[]', png],
          ['image[]', png],
        ]),
      ).images.map((i) => i.param),
      ['image[0]', 'image[1]'],
    );
    const numbered = editFieldsFromForm(
      form({ prompt: 'p' }, [
        ['image[3]', Buffer.from('b')],
        ['image[0]', Buffer.from('a')],
      ]),
    );
    assert.deepEqual(
      numbered.images.map((i) => [i.param, i.bytes.toString()]),
      [
        ['image[0]', 'a'],
        ['image[3]', 'b'],
      ],
    );
  });

  it('coerces numbers and booleans, refuses repeats, text where a file belongs, unknown files, and mixed naming', () => {
    const { fields, mask } = editFieldsFromForm(
      form({ prompt: 'p', n: '3', output_compression: '50', stream: 'false', size: 'auto' }, [
        ['image', png],
        ['mask', png],
      ]),
    );
    assert.deepEqual(fields, { prompt: 'p', n: 3, output_compression: 50, stream: false, size: 'auto' });
    assert.equal(mask?.param, 'mask');
    refused(() => editFieldsFromForm(form({ prompt: ['a', 'b'] })), 'invalid_value', 'prompt');
    refused(() => editFieldsFromForm(form({ prompt: 'p', image: 'https://example.com/a.png' })), 'invalid_type', 'image');
    refused(() => editFieldsFromForm(form({ prompt: 'p' }, [['picture', png]])), 'unknown_parameter', 'picture');
    refused(
      () =>
        editFieldsFromForm(
          form({ prompt: 'p' }, [
            ['image[0]', png],
            ['image[]', png],
          ]),
        ),
      'invalid_value',
      'image',
    );
    refused(
      () =>
        editFieldsFromForm(
          form({ prompt: 'p' }, [
            ['image[1]', png],
            ['image[1]', png],
          ]),
        ),
      'invalid_value',
      'image[1]',
    );
    refused(
      () =>
        editFieldsFromForm(
          form({ prompt: 'p' }, [
            ['mask', png],
            ['mask', png],
          ]),
        ),
      'invalid_value',
      'mask',
    );
  });
});

describe('edit field rules', () => {
  const check = (fields: Record<string, unknown>, form: 'multipart' | 'json' = 'multipart') => validateEditFields(fields, form, contract);

  it('defaults to the given model and resolves quality like generations', () => {
    const params = check({ prompt: 'a cat' });
    assert.equal(params.model.id, 'gpt-image-1.5');
    assert.equal(params.quality, 'medium');
    assert.equal(params.responseFormat, 'b64_json');
    assert.equal(params.inputFidelity, null);
  });

  it('refuses per model, naming the field', () => {
    refused(() => check({ prompt: 'a cat', model: 'dall-e-3' }), 'invalid_value', 'model', /does not edit images/);
    refused(() => check({ prompt: 'a cat', model: 'nope' }), 'model_not_found', 'model');
    refused(() => check({ prompt: 'a cat', model: 'dall-e-2', output_format: 'png' }), 'unsupported_parameter', 'output_format');
    refused(() => check({ prompt: 'a cat', model: 'dall-e-2', input_fidelity: 'high' }), 'unsupported_parameter', 'input_fidelity');
    refused(() => check({ prompt: 'a cat', model: 'gpt-image-1-mini', input_fidelity: 'high' }), 'invalid_value', 'input_fidelity');
    refused(() => check({ prompt: 'x'.repeat(1001), model: 'dall-e-2' }), 'invalid_value', 'prompt');
    refused(() => check({ prompt: 'a cat', model: 'dall-e-2', stream: true }), 'unsupported_parameter', 'stream', /does not support streaming/);
    refused(() => check({ prompt: 'a cat', stream: true, partial_images: 4 }), 'invalid_value', 'partial_images');
    refused(() => check({ prompt: 'a cat', partial_images: 1 }), 'unsupported_parameter', 'partial_images');
    refused(() => check({ model: 'gpt-image-1' }), 'missing_required_parameter', 'prompt');
    refused(() => check({ prompt: 'a cat', n: 2.5 }), 'invalid_value', 'n');
    refused(() => check({ prompt: 'a cat', model: 'dall-e-2' }, 'json'), 'invalid_value', 'model', /multipart/);
    assert.equal(check({ prompt: 'a cat', model: 'gpt-image-1', input_fidelity: 'high' }).inputFidelity, 'high');
  });

  it('answers the same messages as generations for the shared fields', () => {
    const cases: Array<Record<string, unknown>> = [
      { prompt: 'a cat', quality: 'ultra' },
      { prompt: 'a cat', n: 11 },
      { prompt: 'a cat', output_format: 'gif' },
      { prompt: 'a cat', output_compression: 50 },
      { prompt: 'a cat', background: 'transparent', output_format: 'jpeg' },
      { prompt: '   ' },
      { prompt: 'a cat', model: 'dall-e-2', background: 'opaque' },
    ];
    for (const body of cases) {
      const generation = (() => {
        try {
          validateGeneration(body, contract);
        } catch (err) {
          return err;
        }
        return null;
      })();
      assert.ok(generation instanceof GatewayError, JSON.stringify(body));
      refused(() => check(body), generation.code, generation.param, new RegExp(generation.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  });
});

describe('JSON edit bodies', () => {
  it('takes image_url references and refuses file_id, extra keys and non-objects', () => {
    const parsed = editFieldsFromJson({ prompt: 'p', images: [{ image_url: 'data:image/png;base64,AA==' }], mask: { image_url: 'https://example.com/m.png' } });
    assert.deepEqual(parsed.images, [{ param: 'images[0]', url: 'data:image/png;base64,AA==' }]);
    assert.deepEqual(parsed.mask, { param: 'mask', url: 'https://example.com/m.png' });
    refused(
      () => editFieldsFromJson({ prompt: 'p', images: [{ file_id: 'file-1' }] }),
      'unsupported_parameter',
      'images[0].file_id',
      /file_id is not supported; send image_url/,
    );
    refused(() => editFieldsFromJson({ prompt: 'p', images: [{ image_url: 'x', detail: 'high' }] }), 'unknown_parameter', 'images[0].detail');
    refused(() => editFieldsFromJson({ prompt: 'p', images: ['https://x'] }), 'invalid_type', 'images[0]');
    refused(() => editFieldsFromJson({ prompt: 'p', images: [{}] }), 'missing_required_parameter', 'images[0].image_url');
    refused(() => editFieldsFromJson({ prompt: 'p', colour: 'red' }), 'unknown_parameter', 'colour');
    refused(() => editFieldsFromJson([]), 'invalid_type', null);
  });
});

describe('edit images', () => {
  it('checks count, type by magic bytes, the mask, and resolves size auto from the first image', async () => {
    const params = validateEditFields({ prompt: 'p' }, 'multipart', contract);
    const png = await fakePng(1024, 1536);
    const edit = await validateEditImages(params, [{ param: 'image', bytes: png, declaredType: 'application/octet-stream', filename: 'a' }], null);
    assert.deepEqual(edit.size, { width: 1024, height: 1536 });
    assert.equal(edit.sizeAuto, true);
    assert.equal(edit.images[0]?.format, 'png');
    await refusedAsync(validateEditImages(params, [], null), 'missing_required_parameter', 'image');
    const many = Array.from({ length: 17 }, (_, i) => ({ param: `image[${i}]`, bytes: png, declaredType: '', filename: '' }));
    await refusedAsync(validateEditImages(params, many, null), 'invalid_value', 'image', /at most 16/);
    await refusedAsync(
      validateEditImages(params, [{ param: 'image', bytes: png.subarray(0, png.length - 20), declaredType: '', filename: '' }], null),
      'invalid_value',
      'image',
      /truncated or corrupt/,
    );
    const pdf = Buffer.from('%PDF-1.7 ...');
    await refusedAsync(
      validateEditImages(params, [{ param: 'image[0]', bytes: pdf, declaredType: 'application/octet-stream', filename: 'doc.pdf' }], null),
      'invalid_value',
      'image[0]',
      /unsupported mimetype \('application\/pdf'\)/,
    );
    await refusedAsync(
      validateEditImages(params, [{ param: 'images[0]', bytes: Buffer.from('hello'), declaredType: 'image/png', filename: '' }], null),
      'invalid_value',
      'images[0]',
      /declared 'image\/png' but is not a valid PNG, JPEG or WebP image/,
    );
    const dalle = validateEditFields({ prompt: 'p', model: 'dall-e-2' }, 'multipart', contract);
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]);
    await refusedAsync(
      validateEditImages(dalle, [{ param: 'image', bytes: jpeg, declaredType: 'image/jpeg', filename: 'a.jpg' }], null),
      'invalid_value',
      'image',
      /unsupported mimetype \('image\/jpeg'\)\. Supported file formats are 'image\/png'\./,
    );
  });

  it('resolveEditSize: auto follows the first image within the model size rule; explicit sizes as generations', () => {
    const gpt = model('gpt-image-1.5');
    assert.deepEqual(resolveEditSize(gpt, undefined, { width: 1024, height: 1024 }).size, { width: 1024, height: 1024 });
    assert.deepEqual(resolveEditSize(gpt, 'auto', { width: 1600, height: 900 }).size, { width: 1536, height: 1024 });
    assert.deepEqual(resolveEditSize(gpt, 'auto', { width: 600, height: 1000 }).size, { width: 1024, height: 1536 });
    assert.deepEqual(resolveEditSize(gpt, '1536x1024', { width: 10, height: 10 }), { size: { width: 1536, height: 1024 }, aspect: null, sizeAuto: false });
    const free = model('gpt-image-2');
    assert.deepEqual(resolveEditSize(free, undefined, { width: 1280, height: 720 }).size, { width: 1280, height: 720 });
    assert.deepEqual(resolveEditSize(free, undefined, { width: 512, height: 512 }).size, { width: 816, height: 816 });
    const wide = resolveEditSize(free, undefined, { width: 8000, height: 1000 }).size;
    assert.ok(wide.width / wide.height <= 3 && wide.width % 16 === 0 && wide.height % 16 === 0 && wide.width <= 3840, JSON.stringify(wide));
    const dalle = model('dall-e-2');
    assert.deepEqual(resolveEditSize(dalle, undefined, { width: 256, height: 256 }).size, { width: 1024, height: 1024 });
    refused(() => resolveEditSize(dalle, 'auto', { width: 256, height: 256 }), 'invalid_value', 'size');
  });

  it('estimates input image tokens by the vision tile rule', () => {
    assert.equal(estimateImageInputTokens([{ width: 1024, height: 1024 }]), 765);
    assert.equal(estimateImageInputTokens([{ width: 512, height: 512 }]), 255);
    assert.equal(estimateImageInputTokens([{ width: 4096, height: 2048 }]), 85 + 170 * 6);
    assert.equal(estimateImageInputTokens([]), 0);
  });
});
