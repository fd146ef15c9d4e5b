import { azureOpenAIProvider } from './azure-openai/index.ts';
import { dashscopeProvider } from './dashscope/index.ts';
import { localProvider } from './local/index.ts';
import { openaiProvider } from './openai/index.ts';
import type { ProviderAdapter } from './types.ts';

/** Every provider the gateway can speak, by id. Adding a provider is one line here. */
export const PROVIDERS: ReadonlyMap<string, ProviderAdapter> = new Map<string, ProviderAdapter>(
  [localProvider, openaiProvider, azureOpenAIProvider, dashscopeProvider].map((adapter) => [adapter.id, adapter]),
);
