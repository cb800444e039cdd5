import type { ProviderName } from '../routing/catalog';
import { anthropicProvider } from './anthropic';
import { azureProvider } from './azure';
import { geminiProvider } from './gemini';
import { openaiProvider } from './openai';
import { onpremProvider } from './onprem';
import type { Provider } from './provider';

/** Every upstream, by the prefix clients use in `provider/model` names. */
export const providers: Record<ProviderName, Provider> = {
  openai: openaiProvider,
  azure: azureProvider,
  anthropic: anthropicProvider,
  gemini: geminiProvider,
  onprem: onpremProvider,
};
