import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, SECRET_FILE_VARIABLES, SETTINGS } from '../../src/config.js';
import { ROOT } from '../support/processes.js';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** `VAR=value` lines, set or commented out (`#VAR=value`): the example's settings and defaults. */
function exampleSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^#?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) settings.set(match[1] as string, match[2] as string);
  }
  return settings;
}

describe('docs/convo-hooks.env.example', () => {
  const settings = exampleSettings(read('docs/convo-hooks.env.example'));

  it('lists every setting and every secret file variant, and no setting that does not exist', () => {
    const fileVariants = SECRET_FILE_VARIABLES.map((variable) => `${variable}_FILE`);
    const known = [...SETTINGS, ...fileVariants, 'NODE_OPTIONS', 'OTEL_SERVICE_NAME'];
    expect([...settings.keys()].filter((name) => !known.includes(name))).toEqual([]);
    expect([...SETTINGS, ...fileVariants].filter((name) => !settings.has(name))).toEqual([]);
  });

  it('holds values the service accepts, and the defaults it shows are the defaults', () => {
    const given = Object.fromEntries(
      [...settings].filter(([name]) => SETTINGS.includes(name) && name !== 'SECRET_ENCRYPTION_KEY'),
    );
    const shown = loadConfig({ ...given, SECRET_ENCRYPTION_KEY: 'ab'.repeat(32) });
    const defaults = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: given.DATABASE_URL,
      SECRET_ENCRYPTION_KEY: 'ab'.repeat(32),
    });
    expect(shown).toEqual(defaults);
  });

  it('never holds a real-looking key, and never generates one at start', () => {
    const text = read('docs/convo-hooks.env.example');
    expect(text).not.toMatch(/[0-9a-f]{64}/i);
    expect(text).not.toMatch(/^[^#]*\$\(/m);
  });
});

describe('docs/convo-hooks.service', () => {
  const unit = read('docs/convo-hooks.service');
  const directive = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(unit)?.[1];

  it('runs node dist/main.js as its own user, with the env file, restarts on failure and stops with SIGTERM', () => {
    expect(directive('User')).toBe('convo-hooks');
    expect(directive('EnvironmentFile')).toBe('/etc/convo-hooks/convo-hooks.env');
    expect(directive('ExecStart')).toMatch(/\bnode\b.* dist\/main\.js$/);
    expect(directive('Restart')).toBe('on-failure');
    expect(directive('KillSignal')).toBe('SIGTERM');
  });

  it('waits longer than SHUTDOWN_GRACE_MS for the drain before killing', () => {
    const stopSeconds = Number(/^(\d+)s?$/.exec(directive('TimeoutStopSec') ?? '')?.[1]);
    expect(stopSeconds * 1000).toBeGreaterThan(loadConfig({ NODE_ENV: 'production' }).shutdownGraceMs);
  });

  it('hands the service the key file the env example points at', () => {
    const [name, source] = (directive('LoadCredential') ?? '').split(':');
    expect(source).toMatch(/^\/etc\/convo-hooks\//);
    expect(exampleSettings(read('docs/convo-hooks.env.example')).get('SECRET_ENCRYPTION_KEY_FILE')).toBe(
      `/run/credentials/convo-hooks.service/${name}`,
    );
  });
});
