import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../test-support/harness.js';
import { buildApp, OPENAPI_PATH } from './app.js';

describe('HTTP application', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext('sqlite');
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('every route declares its authorization requirement', () => {
    const table = ctx.app.routeTable;
    expect(table.length).toBeGreaterThan(10);
    const undeclared = table.filter((r) => r.auth === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
  });

  it('every non-public API route refuses a request without a session', async () => {
    const guarded = ctx.app.routeTable.filter((r) => r.auth !== 'public');
    // The Pleasant-compatible routes are walked too; they answer in Pleasant's shape.
    expect(guarded.filter((r) => r.url.startsWith('/api/v6/rest/')).length).toBeGreaterThan(40);
    for (const r of guarded) {
      const url = r.url.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');
      for (const authorization of [undefined, 'Bearer not-a-token', 'not-a-token']) {
        const res = await ctx.app.inject({
          method: r.method as 'GET',
          url,
          payload: {},
          headers: authorization ? { authorization } : {},
        });
        expect({ route: `${r.method} ${r.url}`, status: res.statusCode }).toEqual({
          route: `${r.method} ${r.url}`,
          status: 401,
        });
        if (/^\/api\/v[56]\/rest\//.test(r.url)) {
          expect(res.json()).toEqual({
            Message: 'Authorization has been denied for this request.',
          });
        } else {
          expect(res.json().error.code).toBe('unauthenticated');
        }
      }
    }
  });

  it('takes a bare token (no Bearer scheme) on the Pleasant-compatible routes only', () => {
    for (const r of ctx.app.routeTable) {
      const pleasant = /^\/api\/v[56]\/rest\//.test(r.url);
      expect({ route: `${r.method} ${r.url}`, bare: r.bareToken }).toEqual({
        route: `${r.method} ${r.url}`,
        bare: pleasant,
      });
    }
  });

  it('a route that declares nothing is denied, not served', async () => {
    const app = await buildApp(ctx.services, { logger: false });
    app.get('/api/v1/undeclared', async () => ({ leaked: true }));
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/v1/undeclared' });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('leaked');
    await app.close();
  });

  it('serves the OpenAPI document and sets security headers', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: OPENAPI_PATH });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/v1/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('answers an unknown route with a JSON 404 and no stack trace', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
    expect(res.body).not.toMatch(/at .*\.js:\d+/);
  });
});
