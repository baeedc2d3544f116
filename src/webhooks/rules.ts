import { z } from 'zod';
import { WEBHOOK_EVENTS } from './event-types.js';

const WEBHOOK_URL_PATTERN = /^https?:\/\/.+/;
// C0 controls and DEL: never meaningful in a name, an id or a URL, and PostgreSQL text cannot hold NUL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

// A UTF-16 surrogate without its pair: no character at all, and not storable as UTF-8.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A single-line text field of `min`–`max` characters (after trimming). */
export const lineOfText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .min(min, `must be ${min} to ${max} characters`)
    .max(max, `must be ${min} to ${max} characters`)
    .refine((text) => !CONTROL_CHARACTERS.test(text), 'must not contain control characters')
    // PostgreSQL stores text as UTF-8: an unpaired surrogate would be stored as U+FFFD, another string.
    .refine((text) => !UNPAIRED_SURROGATE.test(text), 'must be valid Unicode (no unpaired surrogates)');

export const MAX_HEADERS = 20;
export const MAX_HEADER_NAME_LENGTH = 128;
export const MAX_HEADER_VALUE_LENGTH = 1000;
/** Names and values together: with ours, well under the 16 KiB most servers take (Node's default). */
export const MAX_HEADERS_SIZE = 8192;

/** The input rules of webhooks, shared by registration, update, and events naming an agent. */
export const webhookRules = {
  name: lineOfText(1, 128),
  agentId: lineOfText(1, 64),
  // One message per URL: the first rule it breaks.
  url: z.string().superRefine((url, ctx) => {
    const problem =
      url.length > 2048
        ? 'must be at most 2048 characters'
        : !WEBHOOK_URL_PATTERN.test(url)
          ? 'must start with http:// or https://'
          : /\s/.test(url) || CONTROL_CHARACTERS.test(url)
            ? 'must not contain spaces or control characters'
            : UNPAIRED_SURROGATE.test(url)
              ? 'must be valid Unicode (no unpaired surrogates)'
              : !URL.canParse(url)
                ? 'must be a valid absolute URL'
                : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, 'must name at least one event'),
  rateLimitPerSecond: z
    .number()
    .int()
    .min(1, 'must be 1 to 10000, or null for no limit')
    .max(10_000, 'must be 1 to 10000, or null for no limit'),
  headers: z
    .array(
      z.object({
        name: z.string().superRefine((name, ctx) => {
          const problem = headerNameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
        // Checked as sent, then trimmed: receivers' parsers drop the whitespace around a value anyway.
        value: z
          .string()
          .superRefine((value, ctx) => {
            const problem = headerValueProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .transform((value) => value.trim()),
      }),
    )
    .max(MAX_HEADERS, `must be at most ${MAX_HEADERS} headers`)
    .superRefine((headers, ctx) => {
      const seen = new Set<string>();
      headers.forEach((header, i) => {
        const key = header.name.toLowerCase();
        if (seen.has(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: 'repeats an earlier header (names are case-insensitive)',
          });
        }
        seen.add(key);
      });
      const size = headers.reduce((total, h) => total + h.name.length + h.value.length, 0);
      if (size > MAX_HEADERS_SIZE) {
        ctx.addIssue({
          code: 'custom',
          message: `must be at most ${MAX_HEADERS_SIZE} characters of names and values in all`,
        });
      }
    }),
};

/**
 * Header names a webhook may not set, because they would change what a delivery means or
 * how it travels: framing and hop-by-hop headers, the body's type and encoding, our
 * Standard Webhooks signature headers and user agent, trace context (each delivery
 * carries its own), what proxies add about the route, and what frameworks and proxies in
 * front of a receiver read to change the request they pass on: method overrides, URL
 * rewrites, cookies (a session the receiver would act under), ranges and conditions.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'http2-settings',
  'te',
  'trailer',
  'expect',
  'user-agent',
  'traceparent',
  'tracestate',
  'baggage',
  'forwarded',
  'via',
  'x-real-ip',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-host',
  'x-host',
  'x-middleware-subrequest',
  'cookie',
  'cookie2',
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'accept-encoding',
]);
/** Whole families, by prefix: webhook-id, -timestamp, -signature and any the scheme adds; proxy-authorization… */
export const RESERVED_HEADER_PREFIXES = ['webhook-', 'proxy-', 'x-forwarded-'] as const;

// RFC 9110 token: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching CR, LF and NUL is the point.
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/;
// Visible ASCII, spaces and tabs: what a field value should hold (RFC 9110 5.5), and all undici sends.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

export function headerNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > MAX_HEADER_NAME_LENGTH)
    return `must be 1 to ${MAX_HEADER_NAME_LENGTH} characters`;
  if (!HTTP_TOKEN.test(name)) return "must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~ only";
  const lower = name.toLowerCase();
  if (RESERVED_HEADER_NAMES.has(lower) || RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
    return `is reserved: the service sets ${lower} itself, or it would change how the delivery is read`;
  }
  return undefined;
}

export function headerValueProblem(value: string): string | undefined {
  if (LINE_BREAK_OR_NUL.test(value)) return 'must not contain CR, LF or NUL';
  if (!FIELD_VALUE.test(value)) return 'must be printable ASCII (spaces and tabs allowed)';
  if (value.trim().length > MAX_HEADER_VALUE_LENGTH) return `must be at most ${MAX_HEADER_VALUE_LENGTH} characters`;
  return undefined;
}
