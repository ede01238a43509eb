import type { z } from 'zod';

/**
 * The parts of zod 4's internal schema definition that walking a schema needs
 * (did-you-mean suggestions, the generated configuration reference). Read in one
 * place so a zod upgrade that moves them breaks one file.
 */
export interface ZodDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  entries?: Record<string, string>;
  values?: unknown[];
  defaultValue?: unknown;
  checks?: { _zod: { def: { check: string; value?: unknown; inclusive?: boolean; minimum?: unknown; maximum?: unknown } } }[];
}

export const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
