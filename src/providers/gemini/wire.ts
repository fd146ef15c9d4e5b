import { z } from 'zod';
import { type AspectChoice, type ImageUsage, nearestAspect } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { GatewayError } from '../../errors.ts';
import { mimeOf } from '../../media/sniff.ts';
import { decodeBase64Image } from '../shared/call-upstream.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderImage } from '../types.ts';

/*
 * The Gemini API's generateContent wire format for native image models (provider notes §3b, §11;
 * Google's image-generation guide, ai.google.dev/gemini-api/docs/image-generation).
 */

/** The ratios every Gemini image model takes; a model whose catalog rule is not an aspect rule gets the nearest. */
const GEMINI_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];

/**
 * The `generateContent` body: one user turn whose parts are the input images (edits) as
 * `inlineData`, then the prompt, as Google's editing examples order them; `responseModalities`
 * TEXT and IMAGE, as Google's examples ask (the text, if any, is skipped); `imageConfig.aspectRatio`
 * always, `imageSize` only for models whose catalog rule has tiers to choose from
 * (gemini-2.5-flash-image has one resolution and no `imageSize`); `seed` when asked. No
 * `candidateCount`: "Multiple candidates is not enabled" (provider notes §11).
 */
export function generateContentBody(request: ImageParams, images: readonly InputImage[], seedOffset = 0): Record<string, unknown> {
  const parts: Array<Record<string, unknown>> = images.map((image) => ({
    inlineData: { mimeType: mimeOf(image.format), data: image.bytes.toString('base64') },
  }));
  parts.push({ text: request.prompt });
  const { ratio, tier } = aspectFor(request);
  const rule = request.model.size;
  const tiered = rule.kind === 'aspect' && Object.keys(rule.tiers).length > 1;
  const generationConfig: Record<string, unknown> = {
    responseModalities: ['TEXT', 'IMAGE'],
    imageConfig: { aspectRatio: ratio, ...(tiered ? { imageSize: tier } : {}) },
  };
  // seed + i for the i-th image of one request, so that n images with a seed are not n copies.
  if (request.seed !== null) generationConfig['seed'] = (request.seed + seedOffset) % 2_147_483_648;
  return { contents: [{ role: 'user', parts }], generationConfig };
}

/** The ratio and tier the contract resolved, or (a model without an aspect rule) the nearest Gemini ratio. */
function aspectFor(request: ImageParams): AspectChoice {
  if (request.aspect !== null) return request.aspect;
  return nearestAspect({ kind: 'aspect', ratios: GEMINI_RATIOS, tiers: { '1K': 1024 }, defaultRatio: '1:1', defaultTier: '1K', multipleOf: 16 }, request.size);
}

const InlineDataSchema = z.looseObject({ mimeType: z.string().optional(), data: z.string() });

/**
 * A part of the answer: text, an image, or a "thought" (Gemini 3 image models think first and
 * may draw interim images marked `thought: true`; they are drafts, not the answer). REST answers
 * use camelCase `inlineData`; `inline_data` is read too for proxies that re-serialize.
 */
const PartSchema = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  inlineData: InlineDataSchema.optional(),
  inline_data: InlineDataSchema.optional(),
});

const CandidateSchema = z.looseObject({
  content: z.looseObject({ parts: z.array(PartSchema).optional() }).optional(),
  finishReason: z.string().optional(),
  finishMessage: z.string().optional(),
});

const TokenCount = z.number().finite();
const ModalityCountsSchema = z.array(z.looseObject({ modality: z.string().optional(), tokenCount: TokenCount.optional() })).optional();

const UsageMetadataSchema = z.looseObject({
  promptTokenCount: TokenCount.optional(),
  candidatesTokenCount: TokenCount.optional(),
  thoughtsTokenCount: TokenCount.optional(),
  totalTokenCount: TokenCount.optional(),
  promptTokensDetails: ModalityCountsSchema,
});

/** GenerateContentResponse: candidates, or a `promptFeedback` that says why there are none. */
const GenerateContentResponseSchema = z.looseObject({
  candidates: z.array(CandidateSchema).optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional(), blockReasonMessage: z.string().optional() }).optional(),
  usageMetadata: z.unknown().optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
});

/**
 * Finish reasons of a candidate that the safety system (or the recitation check) stopped, in an
 * HTTP 200 (js-genai's FinishReason; provider notes §11). BLOCKLIST (forbidden terms) and SPII
 * (personal data) are Google's content filters as well.
 */
const REFUSED = new Set(['SAFETY', 'IMAGE_SAFETY', 'PROHIBITED_CONTENT', 'IMAGE_PROHIBITED_CONTENT', 'RECITATION', 'IMAGE_RECITATION', 'BLOCKLIST', 'SPII']);

/** What one generateContent answer holds: the image it drew, and its token usage when reported. */
export interface GeminiAnswer {
  readonly image: ProviderImage;
  readonly usage: ImageUsage | undefined;
  readonly modelVersion: string | undefined;
  readonly responseId: string | undefined;
  /** Images beside the first one that the model volunteered (dropped: one call, one image). */
  readonly extraImages: number;
}

/**
 * Reads a 200 answer. Refusals come as HTTP 200: a `promptFeedback.blockReason` with no
 * candidates (the prompt was blocked), or a candidate whose `finishReason` names the safety
 * system: both are `content_policy_violation`. An answer without an image (`NO_IMAGE`,
 * `IMAGE_OTHER`, or only text, e.g. the model asking a question back) is a 502 naming the reason
 * and quoting the text, not retried: the model decided, and asking again costs again.
 */
export function readGenerateContent(json: unknown): GeminiAnswer {
  const answer = parseWire('gemini', GenerateContentResponseSchema, json, 'the generateContent answer');
  const blocked = answer.promptFeedback?.blockReason;
  if (blocked !== undefined && blocked !== '' && blocked !== 'BLOCK_REASON_UNSPECIFIED') {
    const why = answer.promptFeedback?.blockReasonMessage;
    throw contentPolicyError('gemini', `the prompt was blocked (${blocked})${why === undefined || why === '' ? '' : `: ${why}`}`);
  }
  const candidates = answer.candidates ?? [];
  if (candidates.length === 0) throw malformedResponse('gemini', 'an answer with neither candidates nor a promptFeedback.blockReason');

  const images: ProviderImage[] = [];
  const texts: string[] = [];
  let reason = '';
  for (const candidate of candidates) {
    const finish = candidate.finishReason ?? '';
    if (REFUSED.has(finish)) {
      const why = candidate.finishMessage;
      throw contentPolicyError('gemini', `the image was blocked (${finish})${why === undefined || why === '' ? '' : `: ${why}`}`);
    }
    if (reason === '' && finish !== '' && finish !== 'STOP') reason = finish;
    for (const part of candidate.content?.parts ?? []) {
      if (part.thought === true) continue;
      const inline = part.inlineData ?? part.inline_data;
      if (inline !== undefined) {
        const bytes = decodeBase64Image('gemini', inline.data);
        images.push({ bytes, base64: inline.data, ...(inline.mimeType === undefined ? {} : { mime: inline.mimeType }) });
      } else if (part.text !== undefined && part.text.trim() !== '') {
        texts.push(part.text.trim());
      }
    }
  }
  const first = images[0];
  if (first === undefined) {
    const said = texts.join(' ');
    const quoted = said === '' ? '' : `: "${said.length > 300 ? `${said.slice(0, 300)}…` : said}"`;
    throw new GatewayError('upstream_error', `The upstream provider (gemini) answered without an image (${reason === '' ? 'text only' : reason})${quoted}.`);
  }
  return {
    image: first,
    usage: readUsage(answer.usageMetadata),
    modelVersion: answer.modelVersion,
    responseId: answer.responseId,
    extraImages: images.length - 1,
  };
}

/**
 * `usageMetadata` as OpenAI's usage: prompt tokens split by modality (text, input images),
 * output = candidates + thoughts (Google bills thinking as output). Anything that does not parse
 * is no claim at all. The catalog prices these models per image, so this is informational unless
 * an operator gives a model a token table.
 */
export function readUsage(raw: unknown): ImageUsage | undefined {
  const parsed = UsageMetadataSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const u = parsed.data;
  if (u.promptTokenCount === undefined || u.candidatesTokenCount === undefined) return undefined;
  const byModality = (name: string): number =>
    (u.promptTokensDetails ?? []).filter((entry) => entry.modality === name).reduce((sum, entry) => sum + (entry.tokenCount ?? 0), 0);
  const image = byModality('IMAGE');
  const text = u.promptTokensDetails === undefined ? u.promptTokenCount : byModality('TEXT');
  const output = u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0);
  return {
    input_tokens: u.promptTokenCount,
    input_tokens_details: { text_tokens: text, image_tokens: image },
    output_tokens: output,
    total_tokens: u.totalTokenCount ?? u.promptTokenCount + output,
  };
}
