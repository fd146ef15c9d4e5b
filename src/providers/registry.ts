import { azureOpenAIProvider } from './azure-openai/index.ts';
import { dashscopeProvider } from './dashscope/index.ts';
import { geminiProvider } from './gemini/index.ts';
import { localProvider } from './local/index.ts';
import { openaiProvider } from './openai/index.ts';
import { registerProvider } from './register.ts';
import type { RegisteredProvider } from './types.ts';

/** Every provider the gateway can speak, by id. Adding a provider is one line here. */
export const PROVIDERS: ReadonlyMap<string, RegisteredProvider> = new Map(
  [
    registerProvider(localProvider),
    registerProvider(openaiProvider),
    registerProvider(azureOpenAIProvider),
    registerProvider(dashscopeProvider),
    registerProvider(geminiProvider),
  ].map((provider) => [provider.id, provider]),
);
