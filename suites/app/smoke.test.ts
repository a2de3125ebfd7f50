import { afterAll, beforeAll, expect, test } from 'vitest';
import { createProjects, signUp, startTestApp, type TestApp } from './harness.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

test('smoke', async () => {
  const a = await signUp(t.client, 'acme');
  const b = await signUp(t.client, 'globex');
  await createProjects(t.client, a.token, ['a1']);
  const list = await t.client.get('/projects', { token: b.token });
  expect(list.status).toBe(200);
  expect(list.body.projects).toEqual([]);
});
