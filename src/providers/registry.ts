import { arkProvider } from './ark/index.ts';
import { automatic1111Provider } from './automatic1111/index.ts';
import { azureOpenAIProvider } from './azure-openai/index.ts';
import { bedrockProvider } from './bedrock/index.ts';
import { bflProvider } from './bfl/index.ts';
import { comfyuiProvider } from './comfyui/index.ts';
import { dashscopeProvider } from './dashscope/index.ts';
import { falProvider } from './fal/index.ts';
import { geminiProvider } from './gemini/index.ts';
import { localProvider } from './local/index.ts';
import { openaiProvider } from './openai/index.ts';
import { openrouterProvider } from './openrouter/index.ts';
import { registerProvider } from './register.ts';
import { replicateProvider } from './replicate/index.ts';
import { stabilityProvider } from './stability/index.ts';
import type { RegisteredProvider } from './types.ts';
import { xaiProvider } from './xai/index.ts';

/** Every provider the gateway can speak, by id. Adding a provider is one line here. */
export const PROVIDERS: ReadonlyMap<string, RegisteredProvider> = new Map(
  [
    registerProvider(localProvider),
    registerProvider(openaiProvider),
    registerProvider(azureOpenAIProvider),
    registerProvider(dashscopeProvider),
    registerProvider(stabilityProvider),
    registerProvider(bflProvider),
    registerProvider(arkProvider),
    registerProvider(xaiProvider),
    registerProvider(openrouterProvider),
    registerProvider(geminiProvider),
    registerProvider(falProvider),
    registerProvider(comfyuiProvider),
    registerProvider(bedrockProvider),
    registerProvider(automatic1111Provider),
    registerProvider(replicateProvider),
  ].map((provider) => [provider.id, provider]),
);
