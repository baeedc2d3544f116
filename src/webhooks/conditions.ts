import { z } from 'zod';

/**
 * Conditions on an event's `data` and the dotted paths they (and excludedFields) name.
 * A webhook whose conditions fail for an event gets no delivery of it; the fan-out
 * evaluates them in SQL (queue/enqueue.ts) with the predicate compiled here.
 */

export const CONDITION_OPERATORS = ['EQ', 'NE', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'EXISTS'] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** A scalar a condition compares with: the JSON types whose equality and order are unambiguous. */
export type ConditionScalar = string | number | boolean | null;
export type DataCondition = { path: string; operator: ConditionOperator; value: ConditionScalar | ConditionScalar[] };

export const MAX_CONDITIONS = 10;
export const MAX_EXCLUDED_FIELDS = 20;
export const MAX_PATH_LENGTH = 256;
export const MAX_PATH_SEGMENTS = 16;
export const MAX_IN_VALUES = 50;
export const MAX_VALUE_LENGTH = 1000;

/** A key of an object in `data`: ASCII letters, digits, `_` and `-` (what event producers use). */
const PATH_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** What is wrong with a dotted path into `data` (`analysis.sentiment`), or undefined. */
export function dataPathProblem(path: string): string | undefined {
  if (path.length < 1 || path.length > MAX_PATH_LENGTH) return `must be 1 to ${MAX_PATH_LENGTH} characters`;
  const segments = path.split('.');
  if (segments.length > MAX_PATH_SEGMENTS) return `must have at most ${MAX_PATH_SEGMENTS} segments`;
  if (segments.some((segment) => !PATH_SEGMENT.test(segment))) {
    return 'must be keys separated by dots (analysis.sentiment), each of letters, digits, _ and - only';
  }
  return undefined;
}

export const dataPath = z.string().superRefine((path, ctx) => {
  const problem = dataPathProblem(path);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what PostgreSQL's jsonb cannot hold.
const NUL = /\u0000/;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function scalarProblem(value: unknown, allowed: readonly string[]): string | undefined {
  const type = value === null ? 'null' : typeof value;
  if (!allowed.includes(type)) return `must be ${describe(allowed)}`;
  if (typeof value === 'number' && !Number.isFinite(value)) return 'must be a finite number';
  if (typeof value === 'string') {
    if (value.length > MAX_VALUE_LENGTH) return `must be at most ${MAX_VALUE_LENGTH} characters`;
    if (NUL.test(value) || UNPAIRED_SURROGATE.test(value)) return 'must be valid Unicode without NUL';
  }
  return undefined;
}

const describe = (types: readonly string[]) =>
  types.length === 1 ? `a ${types[0]}` : `a ${types.slice(0, -1).join(', a ')} or ${types.at(-1)}`;

const EQUATABLE = ['string', 'number', 'boolean', 'null'] as const;
const ORDERED = ['number', 'string'] as const;

/**
 * What is wrong with a condition's value for its operator, or undefined. `value` is
 * undefined when the client left it out. EQ and NE take a scalar (null matches JSON
 * null); GT, GTE, LT and LTE a number or a string; IN a list of 1 to 50 scalars; EXISTS none.
 */
export function conditionValueProblem(operator: ConditionOperator, value: unknown): string | undefined {
  switch (operator) {
    case 'EXISTS':
      return value === undefined || value === null ? undefined : 'must be left out: EXISTS takes no value';
    case 'IN': {
      if (!Array.isArray(value)) return `must be a list of 1 to ${MAX_IN_VALUES} values for IN`;
      if (value.length < 1 || value.length > MAX_IN_VALUES) return `must hold 1 to ${MAX_IN_VALUES} values for IN`;
      const problem = value.map((item) => scalarProblem(item, EQUATABLE)).find(Boolean);
      return problem && `every item ${problem}`;
    }
    case 'EQ':
    case 'NE':
      if (value === undefined) return `is required for ${operator} (null matches a JSON null)`;
      return scalarProblem(value, EQUATABLE);
    default:
      if (value === undefined || value === null) return `is required for ${operator}: a number or a string`;
      return scalarProblem(value, ORDERED);
  }
}

export const conditionRules = z
  .array(
    z
      .object({ path: dataPath, operator: z.enum(CONDITION_OPERATORS), value: z.unknown().optional() })
      .superRefine((condition, ctx) => {
        const problem = conditionValueProblem(condition.operator, condition.value);
        if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
      }),
  )
  .max(MAX_CONDITIONS, `must be at most ${MAX_CONDITIONS} conditions`);

export const excludedFieldsRules = z
  .array(dataPath)
  .max(MAX_EXCLUDED_FIELDS, `must be at most ${MAX_EXCLUDED_FIELDS} paths`);

/** A validated condition as stored and read back: EXISTS keeps a null value. */
export function normaliseCondition(condition: { path: string; operator: ConditionOperator; value?: unknown }) {
  return {
    path: condition.path,
    operator: condition.operator,
    value: (condition.value ?? null) as DataCondition['value'],
  };
}

/**
 * All the conditions as one SQL/JSON path predicate in strict mode, with their values as
 * variables (never spliced into the text), or null for none. Strict mode does not unwrap
 * arrays, and a missing key or a comparison of different types is "unknown", which the
 * fan-out takes as false: "90" is not 90, a missing path fails every operator, NE too.
 * NE holds when the value is there and differs: of another type, or unequal.
 */
export function compileConditions(conditions: readonly DataCondition[]): {
  match: string | null;
  vars: Record<string, unknown>;
} {
  if (conditions.length === 0) return { match: null, vars: {} };
  const vars: Record<string, unknown> = {};
  const variable = (value: unknown) => {
    const name = `v${Object.keys(vars).length}`;
    vars[name] = value;
    return `$${name}`;
  };
  const predicates = conditions.map(({ path, operator, value }) => {
    // Segments are [A-Za-z0-9_-]: quoted, they need no escaping.
    const at = `$${path
      .split('.')
      .map((key) => `."${key}"`)
      .join('')}`;
    switch (operator) {
      case 'EXISTS':
        return `exists(${at})`;
      case 'IN':
        return `(${(value as ConditionScalar[]).map((item) => `${at} == ${variable(item)}`).join(' || ')})`;
      case 'NE':
        return `(${at}.type() != ${variable(jsonType(value as ConditionScalar))} || ${at} != ${variable(value)})`;
      default:
        return `${at} ${COMPARISON[operator]} ${variable(value)}`;
    }
  });
  return { match: `strict ${predicates.join(' && ')}`, vars };
}

const COMPARISON = { EQ: '==', GT: '>', GTE: '>=', LT: '<', LTE: '<=' } as const;

/** The name SQL/JSON's .type() gives a value. */
const jsonType = (value: ConditionScalar) => (value === null ? 'null' : typeof value);
