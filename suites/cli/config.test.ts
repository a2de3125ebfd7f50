import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CannotRunError } from '../../src/index.ts';
import { loadConfigFile, resolveVerifyConfig} from '../../src/index.ts';

const url = 'postgres://u:p@127.0.0.1:5432/app';

describe('target config (zod): flags over config files, one-line errors', () => {
  test('defaults fill in everything but the URL and the model', () => {
    const config = resolveVerifyConfig({ databaseUrl: url, model: 'rls' });
    expect(config.target).toEqual({
      databaseUrl: url,
      model: 'rls',
      appRole: 'app_user',
      tenantTable: 'tenants',
      tenantColumn: 'tenant_id',
      tenantSetting: 'app.current_tenant',
      schemaPattern: 'tenant_%',
      databasePattern: 'tenant_%',
      tenantRole: null,
    });
    expect(config).toMatchObject({ runs: 20, seed: null, format: 'text' });
  });

  test('flags override the config file; strings from the command line are coerced', () => {
    const config = resolveVerifyConfig({ runs: '7', seed: '-3', appRole: 'flag_role' }, { databaseUrl: url, model: 'schema', appRole: 'file_role', runs: 2 });
    expect(config).toMatchObject({ runs: 7, seed: -3, target: { appRole: 'flag_role', model: 'schema' } });
  });

  test.each([
    [{ databaseUrl: url, model: 'rls', tenantSetting: 'nodot' }, /^--tenant-setting must be a custom setting name with a dot/],
    [{ databaseUrl: url, model: 'rls', runs: '0' }, /^--runs must be at least 1$/],
    [{ databaseUrl: url, model: 'rls', seed: '1.5' }, /^--seed must be a whole number$/],
    [{ databaseUrl: url, model: 'rls', format: 'xml' }, /^--format must be one of text, json, github$/],
    [{ databaseUrl: url }, /^--model is required$/],
  ])('%o is refused with one line naming the flag', (flags, message) => {
    const attempt = () => resolveVerifyConfig(flags);
    expect(attempt).toThrow(CannotRunError);
    expect(attempt).toThrow(message);
  });

  test('--schemas narrows the rls model to named schemas, from a comma list or a config array', () => {
    expect(resolveVerifyConfig({ databaseUrl: url, model: 'rls', schemas: 'app, billing' }).target.schemas).toEqual(['app', 'billing']);
    expect(resolveVerifyConfig({}, { databaseUrl: url, model: 'rls', schemas: ['app'] }).target.schemas).toEqual(['app']);
    expect(resolveVerifyConfig({ databaseUrl: url, model: 'rls' }).target.schemas).toBeUndefined();
    expect(() => resolveVerifyConfig({ databaseUrl: url, model: 'rls', schemas: ' , ' })).toThrow(/^--schemas must name at least one schema$/);
  });

  test('a bad value that came from the config file is named as a config field', () => {
    expect(() => resolveVerifyConfig({}, { databaseUrl: url, model: 'rls', tenantRole: 'no_placeholder' })).toThrow(/^config tenantRole must contain \{tenant\}/);
  });

  test('a tenantproof.config.ts with defineConfig is loaded and validated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tp-config-'));
    const file = join(dir, 'tenantproof.config.ts');
    writeFileSync(file, `import { defineConfig } from ${JSON.stringify(resolve('src/target/config.ts'))};\nexport default defineConfig({ databaseUrl: ${JSON.stringify(url)}, model: 'rls', runs: 4 });\n`);
    expect(await loadConfigFile(file)).toEqual({ databaseUrl: url, model: 'rls', runs: 4 });
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    await expect(loadConfigFile(join(dir, 'bad.json'))).rejects.toThrow(/^config file .*bad\.json cannot be read: /);
    await expect(loadConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/does not exist/);
  });
});
