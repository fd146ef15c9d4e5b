import type { ModelSpec } from '../types.ts';
import { ALIBABA_MODELS } from './alibaba.ts';
import { GOOGLE_MODELS } from './google.ts';
import { OPENAI_MODELS } from './openai.ts';

/**
 * Every built-in model, one file per maker (a provider that brings new models adds its file and
 * one line here). Operators add and change models in imagegate.yaml (`models:`).
 */
export const MODELS: readonly ModelSpec[] = [...OPENAI_MODELS, ...ALIBABA_MODELS, ...GOOGLE_MODELS];
