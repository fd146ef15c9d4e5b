import type { ModelSpec } from '../types.ts';
import { ALIBABA_MODELS } from './alibaba.ts';
import { AMAZON_MODELS } from './amazon.ts';
import { BLACK_FOREST_LABS_MODELS } from './black-forest-labs.ts';
import { BYTEDANCE_MODELS } from './bytedance.ts';
import { GOOGLE_MODELS } from './google.ts';
import { OPENAI_MODELS } from './openai.ts';
import { SELF_HOSTED_MODELS } from './self-hosted.ts';
import { STABILITY_MODELS } from './stability.ts';
import { XAI_MODELS } from './xai.ts';

/**
 * Every built-in model, one file per maker (a provider that brings new models adds its file and
 * one line here). Operators add and change models in imagegate.yaml (`models:`).
 */
export const MODELS: readonly ModelSpec[] = [
  ...OPENAI_MODELS,
  ...ALIBABA_MODELS,
  ...AMAZON_MODELS,
  ...BLACK_FOREST_LABS_MODELS,
  ...BYTEDANCE_MODELS,
  ...GOOGLE_MODELS,
  ...STABILITY_MODELS,
  ...XAI_MODELS,
  ...SELF_HOSTED_MODELS,
];
