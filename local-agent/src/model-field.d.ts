// Types of model-field.js, for the Worker (TypeScript) side.
export declare class ModelFieldScanner {
  /** undefined: not known yet; string: the model; null: the body has no usable "model". */
  result: string | null | undefined;
  offset: number;
  valueStart: number;
  valueEnd: number;
  feed(chunk: Uint8Array): string | null | undefined;
  end(): string | null;
}
