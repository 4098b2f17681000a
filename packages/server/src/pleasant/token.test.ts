import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totp } from '@strongroom/crypto';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { adminToken, createUser, login } from '../test-support/identity.js';
import { DEFAULT_POLICY_ID } from '../policies/service.js';
import { identityOf } from '../users/identity.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import { PleasantClient, form, randomAddress, type Response } from './pleasant.support.js';

/**
 * The token endpoint and authentication, rules 1–5 of the wire specification, replayed the way
 * Pleasant clients send them: `/OAuth2/Token` in any case, GET or POST, a form whatever the
 * Content-Type, the two-factor header flow, bare or Bearer tokens. Login is our own (the same
 * audit records, lockout and rate limits as the native login).
 */
describe.each(DIALECTS)('Pleasant-compatible token endpoint (%s)', (dialect) => {
  let ctx: TestContext;
  let p: PleasantClient;
  let admin: string;
  let n = 0;
  const user = async () => {
    n += 1;
    return createUser(ctx.services, { loginName: `tok-${n}@corp.example` });
  };
  const grant = (u: { loginName: string; password: string }) =>
    form({ grant_type: 'password', username: u.loginName, password: u.password });
  const me = (token: string, authorization = token) =>
    ctx.app.inject({
      method: 'GET',
      url: '/api/v5/rest/folders/root',
      headers: { authorization },
    });
  const auditOf = async (loginName: string, event: string) =>
    (
      await ctx.services.store.db
        .selectFrom('audit_log')
        .select(['status', 'details'])
        .where('login_name', '=', loginName)
        .where('event', '=', event)
        .orderBy('seq')
        .execute()
    ).map((r) => ({ status: r.status, details: JSON.parse(r.details) as Record<string, unknown> }));

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    p = new PleasantClient(ctx);
    admin = await adminToken(ctx);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const expectTokenAnswer = (res: Response) => {
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
    expect(body.token_type).toBe('bearer');
    expect(res.headers['cache-control']).toBe('no-store');
    return body as { access_token: string; expires_in: number };
  };

  // ---------------------------------------------------------------- rule 1

  it('serves /OAuth2/Token at the root, in any case and with a trailing slash', async () => {
    const u = await user();
    for (const url of ['/OAuth2/Token', '/oauth2/token', '/OAUTH2/TOKEN', '/oauth2/Token/']) {
      const body = expectTokenAnswer(await p.tokenRequest({ url, body: grant(u) }));
      expect((await me(body.access_token)).statusCode).toBe(200);
    }
  });

  it('accepts GET as well as POST: a form body, or the query string', async () => {
    const u = await user();
    expectTokenAnswer(await p.tokenRequest({ method: 'GET', body: grant(u) }));
    const res = await p.tokenRequest({ method: 'GET', url: `/OAuth2/Token?${grant(u)}` });
    expectTokenAnswer(res);
    // The query string held the password: no log line may repeat it.
    expect(ctx.logs.lines.join('')).not.toContain(u.password);
    expect(ctx.logs.lines.join('')).not.toContain(encodeURIComponent(u.password));
  });

  // ---------------------------------------------------------------- rule 2

  it('parses the body as a form whatever the Content-Type says', async () => {
    const u = await user();
    for (const contentType of [
      'application/x-www-form-urlencoded',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/octet-stream',
      null,
    ]) {
      expectTokenAnswer(await p.tokenRequest({ body: grant(u), contentType }));
    }
  });

  it('reads parameter names in any case, and a JSON object body too', async () => {
    const u = await user();
    expectTokenAnswer(
      await p.tokenRequest({
        body: `Grant_Type=password&UserName=${encodeURIComponent(u.loginName)}&Password=${encodeURIComponent(u.password)}`,
      }),
    );
    expectTokenAnswer(
      await p.tokenRequest({
        body: JSON.stringify({
          grant_type: 'password',
          username: u.loginName,
          password: u.password,
        }),
        contentType: 'application/json',
      }),
    );
  });

  // ---------------------------------------------------------------- rule 3

  it('answers {access_token, token_type: "bearer", expires_in} with the policy API token lifetime', async () => {
    const u = await user();
    const first = expectTokenAnswer(await p.tokenRequest({ body: grant(u) }));
    expect(first.expires_in).toBe(60 * 60); // the Default Policy: 60 minutes
    const res = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/policies/${DEFAULT_POLICY_ID}`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { settings: { timeouts: { apiTokenLifetimeMinutes: 15 } } },
    });
    expect(res.statusCode, res.body).toBe(200);
    try {
      const second = expectTokenAnswer(await p.tokenRequest({ body: grant(u) }));
      expect(second.expires_in).toBe(15 * 60);
      // An ordinary API session: it works until then, and not after.
      ctx.clock.advance(14 * 60_000);
      expect((await me(second.access_token)).statusCode).toBe(200);
      ctx.clock.advance(2 * 60_000);
      expect((await me(second.access_token)).statusCode).toBe(401);
      const session = await ctx.services.store.db
        .selectFrom('sessions')
        .select('kind')
        .where(
          'user_id',
          '=',
          (
            await ctx.services.store.db
              .selectFrom('users')
              .select('id')
              .where('login_name', '=', u.loginName)
              .executeTakeFirstOrThrow()
          ).id,
        )
        .execute();
      expect(session.map((s) => s.kind)).toEqual(['api']);
    } finally {
      await ctx.app.inject({
        method: 'PATCH',
        url: `/api/v1/policies/${DEFAULT_POLICY_ID}`,
        headers: { authorization: `Bearer ${admin}` },
        payload: { settings: { timeouts: { apiTokenLifetimeMinutes: 60 } } },
      });
    }
  });

  it('answers a bad login with 400 invalid_grant, the same for an unknown user, and audits it', async () => {
    const u = await user();
    const wrong = await p.tokenRequest({
      body: form({ grant_type: 'password', username: u.loginName, password: 'not-the-password' }),
    });
    const unknown = await p.tokenRequest({
      body: form({ grant_type: 'password', username: 'nobody@corp.example', password: 'x' }),
    });
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'invalid_grant',
        error_description: 'The user name or password is incorrect.',
      });
    }
    expect((await auditOf(u.loginName, 'Login Failed')).map((r) => r.status)).toEqual(['denied']);
    await p.token(u.loginName, u.password);
    expect(await auditOf(u.loginName, 'Login')).toEqual([
      { status: 'success', details: { client: 'api' } },
    ]);
  });

  it('refuses other grant types and missing parameters with the OAuth2 error shape', async () => {
    const cases: Array<[string, number, string]> = [
      ['', 400, 'invalid_request'],
      ['username=a&password=b', 400, 'invalid_request'],
      ['grant_type=client_credentials&client_id=a&client_secret=b', 400, 'unsupported_grant_type'],
      ['grant_type=password&username=a', 400, 'invalid_request'],
      ['grant_type=password&password=b', 400, 'invalid_request'],
      [`grant_type=password&username=${'x'.repeat(5000)}&password=b`, 400, 'invalid_grant'],
      ['%%%&&&==', 400, 'invalid_request'],
    ];
    for (const [body, status, error] of cases) {
      const res = await p.tokenRequest({ body });
      expect({ body: body.slice(0, 40), status: res.statusCode, error: res.json().error }).toEqual({
        body: body.slice(0, 40),
        status,
        error,
      });
      expect(typeof res.json().error_description).toBe('string');
    }
  });

  it('locks the account after the policy number of failures, as the native login does', async () => {
    const u = await user();
    const bad = form({ grant_type: 'password', username: u.loginName, password: 'wrong-password' });
    for (let i = 0; i < 5; i++) expect((await p.tokenRequest({ body: bad })).statusCode).toBe(400);
    const locked = await p.tokenRequest({ body: grant(u) });
    expect(locked.statusCode).toBe(400);
    expect(locked.json().error).toBe('invalid_grant');
    expect(locked.json().error_description).toMatch(/locked/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await auditOf(u.loginName, 'Login Locked')).length).toBe(2);
    // The same lock holds for the native login.
    const native = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { loginName: u.loginName, password: u.password },
    });
    expect(native.json().error.code).toBe('account_locked');
  });

  // ---------------------------------------------------------------- rule 4

  describe('two-factor header flow', () => {
    const enrol = async () => {
      const u = await user();
      const token = await login(ctx.app, u.loginName, u.password);
      const begin = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/me/two-factor/enrolment',
        headers: { authorization: `Bearer ${token}` },
      });
      const secret = base32Decode(begin.json().secret as string)!;
      const confirm = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/me/two-factor/enrolment/confirm',
        headers: { authorization: `Bearer ${token}` },
        payload: { code: totp(secret, ctx.clock.now()) },
      });
      expect(confirm.statusCode, confirm.body).toBe(200);
      // The enrolment spent this step's code: move on to the next one.
      ctx.clock.advance(30_000);
      return { ...u, secret, recoveryCodes: confirm.json().recoveryCodes as string[] };
    };

    it('asks for the code with X-Pleasant-OTP headers, then accepts it once', async () => {
      const u = await enrol();
      const first = await p.tokenRequest({ body: grant(u) });
      expect(first.statusCode).toBe(400);
      expect(first.json().error).toBe('invalid_grant');
      expect(first.headers['x-pleasant-otp']).toBe('required');
      expect(first.headers['x-pleasant-otp-provider']).toBe('authenticator-app');
      expect(first.body).not.toContain('access_token');
      // The right password without a code is not a failure (no lockout count).
      expect(await auditOf(u.loginName, 'Login Failed')).toEqual([]);

      const code = totp(u.secret, ctx.clock.now());
      const headers = { 'X-Pleasant-OTP': code, 'X-Pleasant-OTP-Provider': 'authenticator-app' };
      const second = await p.tokenRequest({ body: grant(u), headers });
      const token = expectTokenAnswer(second).access_token;
      expect((await me(token)).statusCode).toBe(200);
      const apiLogins = async () =>
        (await auditOf(u.loginName, 'Login'))
          .map((r) => r.details)
          .filter((d) => d.client === 'api');
      expect(await apiLogins()).toEqual([{ client: 'api', twoFactor: 'totp' }]);
      // A code is good once.
      const again = await p.tokenRequest({ body: grant(u), headers });
      expect(again.statusCode).toBe(400);
      expect(again.headers['x-pleasant-otp']).toBe('required');
    });

    it('refuses a wrong code (counted as a failed login) and takes a recovery code', async () => {
      const u = await enrol();
      const wrong = await p.tokenRequest({
        body: grant(u),
        headers: { 'X-Pleasant-OTP': '000000', 'X-Pleasant-OTP-Provider': 'authenticator-app' },
      });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json().error).toBe('invalid_grant');
      expect(wrong.headers['x-pleasant-otp']).toBe('required');
      expect((await auditOf(u.loginName, 'Login Failed')).map((r) => r.details.reason)).toEqual([
        'wrong two-factor code',
      ]);
      const recovery = await p.tokenRequest({
        body: grant(u),
        headers: {
          'X-Pleasant-OTP': u.recoveryCodes[0]!.toUpperCase(),
          'X-Pleasant-OTP-Provider': 'recovery-code',
        },
      });
      expectTokenAnswer(recovery);
      expect(
        (await auditOf(u.loginName, 'Login'))
          .map((r) => r.details)
          .filter((d) => d.client === 'api'),
      ).toEqual([{ client: 'api', twoFactor: 'recovery' }]);
    });

    it('keeps the code out of every log line', async () => {
      const u = await enrol();
      const code = u.recoveryCodes[1]!;
      const res = await p.tokenRequest({
        body: grant(u),
        headers: { 'X-Pleasant-OTP': code, 'X-Pleasant-OTP-Provider': 'recovery-code' },
      });
      expectTokenAnswer(res);
      const logged = ctx.logs.lines.join('');
      expect(logged).not.toContain(code);
      expect(logged).not.toContain(code.replace('-', ''));
    });
  });

  // ---------------------------------------------------------------- rule 5

  it('takes the token bare or as Bearer; a missing or invalid one is a 401', async () => {
    const u = await user();
    const token = await p.token(u.loginName, u.password);
    expect((await me(token, token)).statusCode).toBe(200);
    expect((await me(token, `Bearer ${token}`)).statusCode).toBe(200);
    expect((await me(token, `bearer ${token}`)).statusCode).toBe(200);
    for (const authorization of ['', 'Bearer', `${token}x`, `Basic ${token}`, 'a b c']) {
      const res = await me(token, authorization);
      expect({ authorization, status: res.statusCode }).toEqual({ authorization, status: 401 });
      expect(res.json()).toEqual({ Message: 'Authorization has been denied for this request.' });
    }
    const none = await ctx.app.inject({ method: 'GET', url: '/api/v5/rest/folders/root' });
    expect(none.statusCode).toBe(401);
    // The native API keeps to Bearer.
    const native = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: { authorization: token },
    });
    expect(native.statusCode).toBe(401);
  });

  it('issues a token to a user who must change their password; the API then asks for the change', async () => {
    n += 1;
    const password = testSecret('first');
    await identityOf(ctx.services).users.create(SYSTEM_ACTOR, {
      loginName: `tok-change-${n}`,
      password,
      mustChangePassword: true,
    });
    const token = await p.token(`tok-change-${n}`, password);
    const res = await me(token);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error_message: expect.stringMatching(/Change your password/) });
  });

  it('applies the login rate limit per address and per user name (429)', async () => {
    const limited = await createTestContext(dialect, {
      config: { loginRateLimit: { attempts: 3, windowMs: 60_000 } },
    });
    try {
      const lp = new PleasantClient(limited);
      const u = await createUser(limited.services, { loginName: 'rated' });
      const remoteAddress = randomAddress();
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i++) {
        last = await lp.tokenRequest({ body: grant(u), remoteAddress });
        statuses.push(last.statusCode);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(last!.json().error).toBe('rate_limited');
      expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
