import type {
  FunctionCallingMode,
  GenerationConfig as SdkGenerationConfig,
  GenerativeContentBlob,
  UsageMetadata as SdkUsageMetadata,
} from '@google/generative-ai';

// The Gemini v1beta wire format (generateContent / streamGenerateContent), as the
// gateway writes and reads it. Type-only imports from `@google/generative-ai` where
// its types are current; the fields it lacks (thoughtSignature, thought, seed,
// thinkingConfig, anyOf, responseId, thoughtsTokenCount, newer finish reasons) are
// typed here from the REST reference (https://ai.google.dev/api/generate-content).

export type GeminiBlob = GenerativeContentBlob;

export interface GeminiFunctionCall {
  name: string;
  args?: Record<string, unknown>;
}

export interface GeminiFunctionResponse {
  name: string;
  /** Must be a JSON object (a protobuf Struct). */
  response: Record<string, unknown>;
}

export interface GeminiPart {
  text?: string;
  inlineData?: GeminiBlob;
  functionCall?: GeminiFunctionCall;
  functionResponse?: GeminiFunctionResponse;
  /** True on a summary of the model's reasoning: never shown as answer text. */
  thought?: boolean;
  /** Opaque (base64) reasoning state; Gemini 3 requires it back on function calls. */
  thoughtSignature?: string;
  /** executableCode, codeExecutionResult, fileData, …: read past, never written. */
  [other: string]: unknown;
}

export type GeminiRole = 'user' | 'model';

export interface GeminiContent {
  role: GeminiRole;
  parts: GeminiPart[];
}

/** Gemini's Schema: a subset of OpenAPI 3.0 (upper-case type names). */
export interface GeminiSchema {
  type?: 'STRING' | 'NUMBER' | 'INTEGER' | 'BOOLEAN' | 'ARRAY' | 'OBJECT' | 'NULL';
  format?: string;
  title?: string;
  description?: string;
  nullable?: boolean;
  enum?: string[];
  items?: GeminiSchema;
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  propertyOrdering?: string[];
  anyOf?: GeminiSchema[];
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  default?: unknown;
  example?: unknown;
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: GeminiSchema;
}

export interface GeminiTool {
  functionDeclarations: GeminiFunctionDeclaration[];
}

export interface GeminiToolConfig {
  functionCallingConfig: {
    mode: `${FunctionCallingMode}`;
    allowedFunctionNames?: string[];
  };
}

export interface GeminiGenerationConfig extends Omit<SdkGenerationConfig, 'responseSchema'> {
  responseSchema?: GeminiSchema;
  seed?: number;
  thinkingConfig?: GeminiThinkingConfig;
}

/** Thinking control: a token budget (Gemini 2.5) or a level (Gemini 3); never both. */
export interface GeminiThinkingConfig {
  thinkingBudget?: number;
  thinkingLevel?: 'minimal' | 'low' | 'medium' | 'high';
  includeThoughts?: boolean;
}

export interface GeminiSafetySetting {
  category: string;
  threshold: string;
}

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  generationConfig?: GeminiGenerationConfig;
  tools?: GeminiTool[];
  toolConfig?: GeminiToolConfig;
  safetySettings?: GeminiSafetySetting[];
}

export interface GeminiLogprobsCandidate {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

export interface GeminiLogprobsResult {
  /** One entry per generated token: the top alternatives at that step. */
  topCandidates?: { candidates?: GeminiLogprobsCandidate[] }[];
  /** One entry per generated token: the token chosen. */
  chosenCandidates?: GeminiLogprobsCandidate[];
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  finishMessage?: string;
  index?: number;
  safetyRatings?: unknown[];
  logprobsResult?: GeminiLogprobsResult;
}

export interface GeminiUsageMetadata extends Partial<SdkUsageMetadata> {
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

/** A Google API error object, as in `{"error": {...}}` bodies. */
export interface GoogleApiError {
  code?: number;
  message?: string;
  status?: string;
  details?: ({ '@type'?: string } & Record<string, unknown>)[];
}

export interface GenerateContentResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string; safetyRatings?: unknown[] };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  /** Only in a stream: an error reported after the stream began. */
  error?: GoogleApiError;
}
