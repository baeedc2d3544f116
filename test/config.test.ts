import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      role: 'all',
      deliveryTimeoutMs: 10_000,
      allowPrivateTargets: false,
      retrySchedule: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      disableAfterMs: 5 * 86_400_000,
    });
  });

  it('reads every documented variable', () => {
    const key = 'ab'.repeat(32);
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/hooks',
      SECRET_ENCRYPTION_KEY: key,
      DELIVERY_TIMEOUT_MS: '2500',
      ALLOW_PRIVATE_TARGETS: 'true',
      ROLE: 'worker',
      DELIVERY_RETRY_SCHEDULE: '100ms, 1s,2m',
      DELIVERY_DISABLE_AFTER: '12h',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/hooks',
      deliveryTimeoutMs: 2500,
      allowPrivateTargets: true,
      role: 'worker',
      retrySchedule: [100, 1000, 120_000],
      disableAfterMs: 12 * 3_600_000,
    });
    expect(config.secretEncryptionKey?.toString('hex')).toBe(key);
  });

  it('takes DATABASE_DIRECT_URL for LISTEN and migrations, DATABASE_URL by default; two different URLs declare a pooler', () => {
    const key = 'ab'.repeat(32);
    const pooled = 'postgres://u:p@pgbouncer:6432/hooks';
    const direct = 'postgres://u:p@db:5432/hooks';
    expect(loadConfig({ DATABASE_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject({
      databaseUrl: direct,
      databaseDirectUrl: direct,
      databasePooler: false,
    });
    expect(loadConfig({ DATABASE_URL: direct, DATABASE_DIRECT_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject(
      { databaseDirectUrl: direct, databasePooler: false },
    );
    expect(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: direct, SECRET_ENCRYPTION_KEY: key })).toMatchObject(
      { databaseUrl: pooled, databaseDirectUrl: direct, databasePooler: true },
    );
    expect(loadConfig({})).toMatchObject({ databaseDirectUrl: undefined, databasePooler: false });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ ROLE: 'both' }, 'ROLE'],
    [{ DELIVERY_TIMEOUT_MS: '-1' }, 'DELIVERY_TIMEOUT_MS'],
    [{ DELIVERY_RETRY_SCHEDULE: '5s,soon' }, 'DELIVERY_RETRY_SCHEDULE'],
    [{ DELIVERY_DISABLE_AFTER: '5 days' }, 'DELIVERY_DISABLE_AFTER'],
    [{ ALLOW_PRIVATE_TARGETS: 'yes' }, 'ALLOW_PRIVATE_TARGETS'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db/hooks', DATABASE_DIRECT_URL: 'db:5432/hooks' }, 'DATABASE_DIRECT_URL'],
    [{ DATABASE_DIRECT_URL: 'postgres://db/hooks' }, 'DATABASE_DIRECT_URL'],
    [{ DATABASE_URL: 'postgres://db/hooks' }, 'SECRET_ENCRYPTION_KEY'],
    [{ DATABASE_URL: 'postgres://db/hooks', SECRET_ENCRYPTION_KEY: 'c2hvcnQ=' }, 'SECRET_ENCRYPTION_KEY'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    ],
  ])('stops with one line naming the variable for %o', (env, variable) => {
    let message = '';
    try {
      loadConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(variable);
    expect(message).not.toContain('\n');
  });

  it('traces only with OTEL_EXPORTER_OTLP_ENDPOINT: to its /v1/traces, over http/protobuf unless told otherwise', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    // The signal's own endpoint says where, not whether.
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).tracing,
    ).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/base',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/in',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).tracing,
    ).toEqual({ tracesUrl: 'https://traces.example.com/in', protocol: 'http/json' });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing,
    ).toBeUndefined();
  });
});
