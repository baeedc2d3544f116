import { z } from 'zod';
import { WEBHOOK_EVENTS } from './event-types.js';

const WEBHOOK_URL_PATTERN = /^https?:\/\/.+/;
// C0 controls and DEL: never meaningful in a name, an id or a URL, and PostgreSQL text cannot hold NUL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A single-line text field of `min`–`max` characters (after trimming). */
export const lineOfText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .min(min, `must be ${min} to ${max} characters`)
    .max(max, `must be ${min} to ${max} characters`)
    .refine((text) => !CONTROL_CHARACTERS.test(text), 'must not contain control characters');

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
};
