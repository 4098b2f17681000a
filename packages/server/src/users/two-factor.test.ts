import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totp } from '@strongroom/crypto';
import type { TwoFactorEnrolment, TwoFactorStatus, UserView } from '@strongroom/protocol';
import { compose, type Services } from '../compose.js';
import { testActor } from '../test-support/actors.js';
import {
  DIALECTS,
  createTestContext,
  testConfig,
  type TestContext,
} from '../test-support/harness.js';
import { adminToken, createUser, login } from '../test-support/identity.js';
import { SYSTEM_ACTOR } from './context.js';
import { qrImages } from './qr-code.js';
import * as repo from './repository.js';
import { TwoFactorService, normaliseRecoveryCode, twoFactorOf } from './two-factor.js';
import { api, auditOf } from './test-util.js';

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000ff';
const RECOVERY_FORMAT = /^[a-z2-7]{5}-[a-z2-7]{5}$/;

/**
 * TOTP codes computed outside our code, with Python's standard library only (RFC 6238: HMAC-SHA1,
 * 30-second steps, 6 digits), for the steps -2, -1, 0, +1, +2 around each time:
 *
 *   python3 -c "
 *   import hmac,hashlib,struct,base64
 *   c=lambda s,t:'%06d'%((lambda m:(struct.unpack('>I',m[(m[-1]&15):(m[-1]&15)+4])[0]&0x7fffffff)%10**6)(hmac.new(base64.b32decode(s),struct.pack('>Q',t//30),hashlib.sha1).digest()))
 *   for s,t in [('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',1767225600),('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',1767225615),('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',1790000029),('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',1800000000)]: print(repr(s),base64.b32decode(s).hex(),t,[c(s,t+30*d) for d in range(-2,3)])
 *   "
 */
const TABLE: ReadonlyArray<{
  base32: string;
  hex: string;
  unix: number;
  /** Codes of the steps -2, -1, 0, +1, +2 around `unix`. */
  codes: readonly [string, string, string, string, string];
}> = [
  {
    base32: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    hex: '48656c6c6f21deadbeef48656c6c6f21deadbeef',
    unix: 1767225600,
    codes: ['478298', '633020', '452777', '978927', '681539'],
  },
  {
    base32: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
    hex: '3132333435363738393031323334353637383930',
    unix: 1767225615,
    codes: ['853924', '815958', '745690', '119644', '582485'],
  },
  {
    base32: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    hex: '48656c6c6f21deadbeef48656c6c6f21deadbeef',
    unix: 1790000029,
    codes: ['168673', '739342', '238994', '681112', '137513'],
  },
  {
    base32: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
    hex: '3132333435363738393031323334353637383930',
    unix: 1800000000,
    codes: ['168521', '385088', '768147', '050219', '687638'],
  },
];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk (right after the signature). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe.each(DIALECTS)('two-factor: codes from an independent table (%s)', (dialect) => {
  let ctx: TestContext;
  let counter = 0;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** A service whose new secrets are the table's key, and a fresh user. */
  const setUp = async (hex: string) => {
    const service = new TwoFactorService({
      ...ctx.services,
      newTotpSecret: () => Buffer.from(hex, 'hex'),
    });
    const u = await createUser(ctx.services, { loginName: `table-${dialect}-${++counter}` });
    const actor = testActor({ userId: u.id, loginName: u.loginName });
    const check = async (code: string) => {
      const user = (await repo.findUserById(ctx.services.store.db, u.id))!;
      return ctx.services.store.transaction((trx) =>
        service.verifyLoginFactor(trx, user, { totpCode: code }),
      );
    };
    return { service, actor, check };
  };

  it.each(TABLE)(
    'accepts exactly the RFC 6238 codes of $base32 at $unix (±1 step, each once)',
    async (row) => {
      const [minus2, minus1, zero, plus1, plus2] = row.codes;
      const { service, actor, check } = await setUp(row.hex);
      ctx.clock.set(row.unix * 1000);

      const enrolment = await service.beginEnrolment(actor);
      expect(enrolment.secret).toBe(row.base32);
      // Two steps away either side is outside the window: refused, nothing changes.
      for (const code of [minus2, plus2]) {
        await expect(service.confirmEnrolment(actor, code)).rejects.toMatchObject({
          code: 'validation_failed',
          field: '/code',
        });
      }
      expect((await service.status(actor)).enabled).toBe(false);
      // The previous step's code is within the window: it enrols and becomes the last step used.
      const { recoveryCodes } = await service.confirmEnrolment(actor, minus1);
      expect(recoveryCodes).toHaveLength(10);
      expect((await service.status(actor)).enabled).toBe(true);

      expect(await check(minus1)).toEqual({ ok: false }); // used for the enrolment
      expect(await check(plus2)).toEqual({ ok: false }); // outside the window
      expect(await check(minus2)).toEqual({ ok: false });
      expect(await check(plus1)).toEqual({ ok: true, method: 'totp' });
      expect(await check(plus1)).toEqual({ ok: false }); // the same code twice
      expect(await check(zero)).toEqual({ ok: false }); // an earlier step after a later one

      // Half a minute later the window has moved on by one step: +2 is now next.
      ctx.clock.advance(30_000);
      expect(await check(plus2)).toEqual({ ok: true, method: 'totp' });
      expect(await check(plus2)).toEqual({ ok: false });
    },
  );

  it('accepts the current step at enrolment, and at login the next step only once', async () => {
    const row = TABLE[3]!;
    const { service, actor, check } = await setUp(row.hex);
    ctx.clock.set(row.unix * 1000 + 29_999); // the last millisecond of the step
    await service.beginEnrolment(actor);
    await service.confirmEnrolment(actor, row.codes[2]);
    expect(await check(row.codes[2])).toEqual({ ok: false });
    expect(await check(row.codes[3])).toEqual({ ok: true, method: 'totp' });
  });
});

describe.each(DIALECTS)('two-factor (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: string;
  let counter = 0;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    admin = await adminToken(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  const db = () => ctx.services.store.db;
  const call = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
    api(ctx.app, method, url, { token, ...(body !== undefined ? { body } : {}) });

  /** A fresh user, logged in. */
  const newUser = async () => {
    const u = await createUser(ctx.services, { loginName: `tf-${dialect}-${++counter}` });
    return { ...u, token: await login(ctx.app, u.loginName, u.password) };
  };
  type TestUser = Awaited<ReturnType<typeof newUser>>;

  const status = async (token: string) => {
    const res = await call(token, 'GET', '/me/two-factor');
    expect(res.status, res.body).toBe(200);
    return res.json as TwoFactorStatus;
  };

  const begin = async (token: string) => {
    const res = await call(token, 'POST', '/me/two-factor/enrolment');
    expect(res.status, res.body).toBe(200);
    return res.json as TwoFactorEnrolment;
  };

  /** The code an authenticator app shows now for this base32 secret. */
  const codeNow = (secret: string, offsetSteps = 0) =>
    totp(base32Decode(secret)!, ctx.clock.now() + offsetSteps * 30_000);

  /** Enrols the user through the API: their secret and recovery codes. */
  const enrol = async (user: TestUser) => {
    const { secret } = await begin(user.token);
    const res = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret),
    });
    expect(res.status, res.body).toBe(200);
    return {
      ...user,
      secret,
      recoveryCodes: (res.json as { recoveryCodes: string[] }).recoveryCodes,
    };
  };
  /** A new user with two-factor enabled. */
  const enrolledUser = async () => enrol(await newUser());

  /** The second factor as login checks it, in its own transaction. */
  const verify = async (
    services: Services,
    userId: string,
    input: { totpCode?: string; recoveryCode?: string },
  ) => {
    const user = (await repo.findUserById(services.store.db, userId))!;
    return services.store.transaction((trx) =>
      twoFactorOf(services).verifyLoginFactor(trx, user, input),
    );
  };

  /** Every stored trace of a user's two-factor, to prove a refused request changed nothing. */
  const snapshot = async (userId: string) => {
    const user = await db()
      .selectFrom('users')
      .select(['totp_secret_sealed', 'totp_enabled', 'totp_last_step', 'totp_enrolled_at'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    const codes = await db()
      .selectFrom('recovery_codes')
      .select(['code_hash', 'used_at'])
      .where('user_id', '=', userId)
      .orderBy('code_hash')
      .execute();
    return {
      ...user,
      totp_secret_sealed: user.totp_secret_sealed?.toString('hex') ?? null,
      codes,
    };
  };

  /** A fresh rate-limit window for every user (each code-taking request counts). */
  const nextWindow = () => ctx.clock.advance(61_000);

  it('answers 401 without a session', async () => {
    const res = await api(ctx.app, 'GET', '/me/two-factor');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthenticated');
  });

  it('reports the status of a user without two-factor', async () => {
    const user = await newUser();
    expect(await status(user.token)).toEqual({
      enabled: false,
      enrolledAt: null,
      recoveryCodesLeft: 0,
      pendingEnrolment: false,
      required: false,
    });
  });

  it('begins an enrolment: base32 secret, otpauth URI with issuer and parameters, QR images', async () => {
    const user = await newUser();
    const e = await begin(user.token);
    expect(e.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    const uri = new URL(e.otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Strongroom:${user.loginName}`);
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret: e.secret,
      issuer: 'Strongroom',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });

    expect(e.qrCode.pngDataUrl.startsWith('data:image/png;base64,')).toBe(true);
    const png = Buffer.from(e.qrCode.pngDataUrl.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const size = pngSize(png);
    expect(size.width).toBe(size.height);
    expect(size.width).toBeGreaterThanOrEqual(200); // scannable from a screen
    expect(e.qrCode.svg).toMatch(/^<svg[^>]*viewBox="0 0 \d+ \d+"/);
    // The image is a function of the URI alone.
    expect(await qrImages(e.otpauthUri)).toEqual(e.qrCode);
    const other = await qrImages(e.otpauthUri.replace(e.secret, 'A'.repeat(32)));
    expect(other.pngDataUrl).not.toBe(e.qrCode.pngDataUrl);
    expect(other.svg).not.toBe(e.qrCode.svg);

    expect(await status(user.token)).toMatchObject({ enabled: false, pendingEnrolment: true });
  });

  it('keeps the secret sealed at rest and recovery codes only as hashes', async () => {
    const user = await enrolledUser();
    const raw = base32Decode(user.secret)!;
    const row = await db()
      .selectFrom('users')
      .selectAll()
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.totp_secret_sealed).not.toBeNull();
    expect(row.totp_secret_sealed!.includes(raw)).toBe(false);
    const asText = JSON.stringify(row, (_k, v: unknown) =>
      v && typeof v === 'object' && 'type' in v && (v as { type: string }).type === 'Buffer'
        ? Buffer.from((v as unknown as { data: number[] }).data).toString('latin1')
        : v,
    );
    for (const form of [
      user.secret,
      user.secret.toLowerCase(),
      raw.toString('hex'),
      raw.toString('base64'),
    ]) {
      expect(asText).not.toContain(form);
    }
    // The envelope is bound to this row: copied to another user it does not open.
    const other = await newUser();
    await db()
      .updateTable('users')
      .set({ totp_secret_sealed: row.totp_secret_sealed, totp_enabled: 1 })
      .where('id', '=', other.id)
      .execute();
    await expect(
      verify(ctx.services, other.id, { totpCode: codeNow(user.secret) }),
    ).rejects.toThrow();

    const stored = await db()
      .selectFrom('recovery_codes')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(stored).toHaveLength(10);
    const storedText = JSON.stringify(stored);
    for (const code of user.recoveryCodes) {
      expect(storedText).not.toContain(code);
      expect(storedText).not.toContain(normaliseRecoveryCode(code)!);
    }
    // Nor does any secret reach a log line or an audit record.
    const logs = ctx.logs.lines.join('');
    const audit = JSON.stringify(await db().selectFrom('audit_log').selectAll().execute());
    for (const s of [user.secret, ...user.recoveryCodes]) {
      expect(logs).not.toContain(s);
      expect(audit).not.toContain(s);
    }
  });

  it('confirms an enrolment: 10 readable recovery codes, enabled, audited; then refuses to begin again', async () => {
    const user = await newUser();
    const { secret } = await begin(user.token);
    const before = await snapshot(user.id);

    const wrong = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret, 3),
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatchObject({ code: 'validation_failed', field: '/code' });
    expect(await snapshot(user.id)).toEqual(before);
    expect(await status(user.token)).toMatchObject({ enabled: false, pendingEnrolment: true });

    const res = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret),
    });
    expect(res.status, res.body).toBe(200);
    const codes = (res.json as { recoveryCodes: string[] }).recoveryCodes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(RECOVERY_FORMAT);

    expect(await status(user.token)).toEqual({
      enabled: true,
      enrolledAt: new Date(ctx.clock.now()).toISOString(),
      recoveryCodesLeft: 10,
      pendingEnrolment: false,
      required: false,
    });
    const records = (await auditOf(db(), 'Two-Factor Enrolled')).filter(
      (r) => r.user_id === user.id,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'success', target: user.loginName });

    const again = await call(user.token, 'POST', '/me/two-factor/enrolment');
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('conflict');
    const confirmAgain = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret, 1),
    });
    expect(confirmAgain.status).toBe(409);
    expect((await status(user.token)).recoveryCodesLeft).toBe(10);

    const view = await api(ctx.app, 'GET', `/users/${user.id}`, { token: admin });
    expect((view.json as UserView).twoFactorEnabled).toBe(true);
  });

  it('begins again with a new secret: the old one no longer confirms', async () => {
    const user = await newUser();
    const first = await begin(user.token);
    const second = await begin(user.token);
    expect(second.secret).not.toBe(first.secret);
    const old = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(first.secret),
    });
    expect(old.status).toBe(400);
    const ok = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(second.secret),
    });
    expect(ok.status, ok.body).toBe(200);
  });

  it('refuses to confirm when no enrolment was begun', async () => {
    const user = await newUser();
    const res = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: '123456',
    });
    expect(res.status).toBe(409);
    expect(await snapshot(user.id)).toMatchObject({ totp_secret_sealed: null, codes: [] });
  });

  it('lets a session waiting for a forced enrolment enrol, and ends the wait for every session', async () => {
    const user = await newUser();
    const second = await login(ctx.app, user.loginName, user.password);
    await db()
      .updateTable('sessions')
      .set({ two_factor_pending: 1 })
      .where('user_id', '=', user.id)
      .execute();

    const { secret } = await begin(user.token);
    expect((await status(user.token)).pendingEnrolment).toBe(true);
    const res = await call(user.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret),
    });
    expect(res.status, res.body).toBe(200);
    const pending = await db()
      .selectFrom('sessions')
      .select('two_factor_pending')
      .where('user_id', '=', user.id)
      .execute();
    expect(pending).toHaveLength(2);
    expect(pending.every((s) => s.two_factor_pending === 0)).toBe(true);
    expect((await call(second, 'GET', '/me')).status).toBe(200);
  });

  it('takes each recovery code once, in any case and spacing', async () => {
    const user = await enrolledUser();
    const [first, second, ...rest] = user.recoveryCodes;
    expect(await verify(ctx.services, user.id, { recoveryCode: first!.toUpperCase() })).toEqual({
      ok: true,
      method: 'recovery',
    });
    expect(await verify(ctx.services, user.id, { recoveryCode: first! })).toEqual({ ok: false });
    const spaced = ` ${second!.replace('-', ' ')} `;
    expect(await verify(ctx.services, user.id, { recoveryCode: spaced })).toEqual({
      ok: true,
      method: 'recovery',
    });
    for (const code of rest) {
      expect(await verify(ctx.services, user.id, { recoveryCode: code.replace('-', '') })).toEqual({
        ok: true,
        method: 'recovery',
      });
    }
    expect((await status(user.token)).recoveryCodesLeft).toBe(0);
    for (const code of user.recoveryCodes) {
      expect(await verify(ctx.services, user.id, { recoveryCode: code })).toEqual({ ok: false });
    }
    expect(await verify(ctx.services, user.id, { recoveryCode: 'not a code' })).toEqual({
      ok: false,
    });
    // Another user's code is not yours.
    const other = await enrolledUser();
    expect(await verify(ctx.services, user.id, { recoveryCode: other.recoveryCodes[0]! })).toEqual({
      ok: false,
    });
  });

  it('never passes a user without two-factor, whatever is sent', async () => {
    const user = await newUser();
    const { secret } = await begin(user.token); // pending, not enabled
    expect(await verify(ctx.services, user.id, { totpCode: codeNow(secret) })).toEqual({
      ok: false,
    });
  });

  it('regenerates recovery codes with a current code: the old ones stop working', async () => {
    const user = await enrolledUser();
    await verify(ctx.services, user.id, { recoveryCode: user.recoveryCodes[0]! });
    const before = await snapshot(user.id);

    const wrong = await call(user.token, 'POST', '/me/two-factor/recovery-codes', {
      code: codeNow(user.secret, -3),
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.field).toBe('/code');
    expect(await snapshot(user.id)).toEqual(before);

    const code = codeNow(user.secret, 1);
    const res = await call(user.token, 'POST', '/me/two-factor/recovery-codes', { code });
    expect(res.status, res.body).toBe(200);
    const fresh = (res.json as { recoveryCodes: string[] }).recoveryCodes;
    expect(fresh).toHaveLength(10);
    for (const c of fresh) expect(user.recoveryCodes).not.toContain(c);
    expect((await status(user.token)).recoveryCodesLeft).toBe(10);
    for (const c of user.recoveryCodes.slice(1)) {
      expect(await verify(ctx.services, user.id, { recoveryCode: c })).toEqual({ ok: false });
    }
    expect(await verify(ctx.services, user.id, { recoveryCode: fresh[0]! })).toEqual({
      ok: true,
      method: 'recovery',
    });
    // The code that authorised it is spent.
    const reuse = await call(user.token, 'POST', '/me/two-factor/recovery-codes', { code });
    expect(reuse.status).toBe(400);
    const records = (await auditOf(db(), 'Recovery Codes Regenerated')).filter(
      (r) => r.user_id === user.id,
    );
    expect(records.map((r) => r.status)).toEqual(['denied', 'success', 'denied']);
  });

  it('refuses to regenerate or disable when two-factor is not enabled', async () => {
    const user = await newUser();
    const regen = await call(user.token, 'POST', '/me/two-factor/recovery-codes', {
      code: '123456',
    });
    expect(regen.status).toBe(409);
    const off = await call(user.token, 'DELETE', '/me/two-factor', { code: '123456' });
    expect(off.status).toBe(409);
  });

  it('disables with a current code, and with a recovery code', async () => {
    const byCode = await enrolledUser();
    const before = await snapshot(byCode.id);
    const wrong = await call(byCode.token, 'DELETE', '/me/two-factor', {
      code: codeNow(byCode.secret, 2),
    });
    expect(wrong.status).toBe(400);
    expect(await snapshot(byCode.id)).toEqual(before);
    const res = await call(byCode.token, 'DELETE', '/me/two-factor', {
      code: codeNow(byCode.secret, 1),
    });
    expect(res.status, res.body).toBe(204);
    expect(await status(byCode.token)).toMatchObject({
      enabled: false,
      pendingEnrolment: false,
      recoveryCodesLeft: 0,
    });
    expect(await snapshot(byCode.id)).toEqual({
      totp_secret_sealed: null,
      totp_enabled: 0,
      totp_last_step: null,
      totp_enrolled_at: null,
      codes: [],
    });

    const byRecovery = await enrolledUser();
    const wrongRecovery = await call(byRecovery.token, 'DELETE', '/me/two-factor', {
      recoveryCode: 'aaaaa-aaaaa',
    });
    expect(wrongRecovery.status).toBe(400);
    expect(wrongRecovery.json.error.field).toBe('/recoveryCode');
    const ok = await call(byRecovery.token, 'DELETE', '/me/two-factor', {
      recoveryCode: byRecovery.recoveryCodes[4]!.toUpperCase(),
    });
    expect(ok.status, ok.body).toBe(204);
    expect((await status(byRecovery.token)).enabled).toBe(false);

    const records = (await auditOf(db(), 'Two-Factor Disabled')).filter((r) =>
      [byCode.id, byRecovery.id].includes(r.user_id!),
    );
    expect(records.map((r) => [r.status, JSON.parse(r.details)])).toEqual([
      ['denied', { reason: 'wrong code' }],
      ['success', { method: 'totp' }],
      ['denied', { reason: 'wrong recovery code' }],
      ['success', { method: 'recovery' }],
    ]);

    // Disabled users can enrol again from scratch.
    const { secret } = await begin(byCode.token);
    nextWindow();
    const again = await call(byCode.token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret),
    });
    expect(again.status, again.body).toBe(200);
  });

  it('refuses to disable when the policy requires two-factor', async () => {
    const user = await enrolledUser();
    const policy = await ctx.services.policies.create(SYSTEM_ACTOR, {
      name: `Two-factor required ${dialect} ${++counter}`,
      settings: { twoFactor: 'required' },
    });
    await ctx.services.policies.setUserPolicy(SYSTEM_ACTOR, user.id, policy.id);
    expect((await status(user.token)).required).toBe(true);
    const before = await snapshot(user.id);
    const res = await call(user.token, 'DELETE', '/me/two-factor', {
      code: codeNow(user.secret, 1),
    });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('conflict');
    expect(await snapshot(user.id)).toEqual(before);
  });

  it('lets an administrator reset: sessions end, codes go, the user enrols again', async () => {
    // A second session, opened before enrolling (a login now would ask for a code).
    const fresh = await newUser();
    const other = await login(ctx.app, fresh.loginName, fresh.password);
    const user = await enrol(fresh);
    const plain = await newUser();

    const forbidden = await call(plain.token, 'POST', `/users/${user.id}/two-factor/reset`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error.code).toBe('forbidden');
    const unknown = await call(admin, 'POST', `/users/${UNKNOWN_ID}/two-factor/reset`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('not_found');
    expect((await status(user.token)).enabled).toBe(true);

    const res = await call(admin, 'POST', `/users/${user.id}/two-factor/reset`);
    expect(res.status, res.body).toBe(200);
    expect(res.json as UserView).toMatchObject({ id: user.id, twoFactorEnabled: false });
    for (const token of [user.token, other]) {
      expect((await call(token, 'GET', '/me/two-factor')).status).toBe(401);
    }
    expect(await snapshot(user.id)).toEqual({
      totp_secret_sealed: null,
      totp_enabled: 0,
      totp_last_step: null,
      totp_enrolled_at: null,
      codes: [],
    });
    expect(await verify(ctx.services, user.id, { recoveryCode: user.recoveryCodes[0]! })).toEqual({
      ok: false,
    });
    const records = (await auditOf(db(), 'Two-Factor Reset')).filter(
      (r) => r.target === user.loginName,
    );
    expect(records).toHaveLength(1);
    expect(records[0]!.status).toBe('success');
    expect(JSON.parse(records[0]!.details)).toEqual({ wasEnabled: true });

    const token = await login(ctx.app, user.loginName, user.password);
    const { secret } = await begin(token);
    expect(secret).not.toBe(user.secret);
    const again = await call(token, 'POST', '/me/two-factor/enrolment/confirm', {
      code: codeNow(secret),
    });
    expect(again.status, again.body).toBe(200);
  });

  it('refuses bad input on every route with a 400 and a stable code, changing nothing', async () => {
    const user = await enrolledUser();
    const pending = await newUser();
    await begin(pending.token);
    const before = { user: await snapshot(user.id), pending: await snapshot(pending.id) };
    const badCodes: unknown[] = [
      {},
      { code: '12345' },
      { code: '1234567' },
      { code: 'abcdef' },
      { code: 123456 },
      { code: ' 123456' },
      { code: '123456', extra: 1 },
      [],
      null,
    ];
    const cases: Array<[string, 'GET' | 'POST' | 'DELETE', string, unknown]> = [
      ...badCodes.map((b): [string, 'POST', string, unknown] => [
        pending.token,
        'POST',
        '/me/two-factor/enrolment/confirm',
        b,
      ]),
      ...badCodes.map((b): [string, 'POST', string, unknown] => [
        user.token,
        'POST',
        '/me/two-factor/recovery-codes',
        b,
      ]),
      [user.token, 'DELETE', '/me/two-factor', {}],
      [user.token, 'DELETE', '/me/two-factor', { code: '12345' }],
      [user.token, 'DELETE', '/me/two-factor', { recoveryCode: 'aaaa-aaaa' }],
      [user.token, 'DELETE', '/me/two-factor', { recoveryCode: 'aaaaa-aaaa1' }],
      [user.token, 'DELETE', '/me/two-factor', { recoveryCode: 'x'.repeat(41) }],
      [user.token, 'DELETE', '/me/two-factor', { code: '123456', recoveryCode: 'aaaaa-aaaaa' }],
      [user.token, 'DELETE', '/me/two-factor', { other: '123456' }],
      [user.token, 'DELETE', '/me/two-factor', undefined],
      [pending.token, 'POST', '/me/two-factor/enrolment', { x: 1 }],
      [admin, 'POST', `/users/${user.id}/two-factor/reset`, { x: 1 }],
      [admin, 'POST', '/users/not-an-id/two-factor/reset', undefined],
    ];
    for (const [token, method, url, body] of cases) {
      // Refused by the schema: before the handler, so not even counted by the rate limit.
      const res = await call(token, method, url, body);
      expect(
        [res.status, res.json?.error?.code],
        `${method} ${url} ${JSON.stringify(body)}`,
      ).toEqual([400, 'validation_failed']);
    }
    // Neither the enrolled user nor the pending enrolment (same sealed secret) changed.
    expect({ user: await snapshot(user.id), pending: await snapshot(pending.id) }).toEqual(before);
  });

  it('rate-limits code guesses per user', async () => {
    nextWindow();
    const user = await enrolledUser();
    const { attempts } = ctx.services.config.loginRateLimit;
    let last = 0;
    // The enrolment's confirm already counted once in this window.
    for (let i = 1; i <= attempts; i++) {
      const res = await call(user.token, 'POST', '/me/two-factor/recovery-codes', {
        code: codeNow(user.secret, -5),
      });
      last = res.status;
      if (i < attempts) expect(res.status).toBe(400);
    }
    expect(last).toBe(429);
    const refused = await call(user.token, 'DELETE', '/me/two-factor', {
      code: codeNow(user.secret, 1),
    });
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    expect((await status(user.token)).enabled).toBe(true); // the right code did not get through
    nextWindow();
    const ok = await call(user.token, 'DELETE', '/me/two-factor', {
      code: codeNow(user.secret, 1),
    });
    expect(ok.status, ok.body).toBe(204);
  });

  it('of two concurrent checks with one code, exactly one passes (on PostgreSQL also across two servers)', async () => {
    // SQLite is one server process (decision 3): there the two checks run on one server.
    const second =
      dialect === 'postgres'
        ? await compose(testConfig(ctx.db), {
            clock: ctx.clock,
            backgroundJobs: false,
            createKeyFile: false,
          })
        : null;
    const other = second ?? ctx.services;
    try {
      const user = await enrolledUser();
      const pairs: Array<[Services, Services]> = [
        [ctx.services, ctx.services],
        [ctx.services, other],
      ];
      for (const [a, b] of pairs) {
        ctx.clock.advance(30_000);
        const code = codeNow(user.secret);
        const results = await Promise.all([
          verify(a, user.id, { totpCode: code }),
          verify(b, user.id, { totpCode: code }),
        ]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
      }
      // The user row read before both checks (as two logins would have): still exactly one.
      ctx.clock.advance(30_000);
      const row = (await repo.findUserById(db(), user.id))!;
      const code = codeNow(user.secret);
      const both = await Promise.all(
        [ctx.services, other].map((s) =>
          s.store.transaction((trx) =>
            twoFactorOf(s).verifyLoginFactor(trx, row, { totpCode: code }),
          ),
        ),
      );
      expect(both.filter((r) => r.ok)).toHaveLength(1);
      // A recovery code too.
      const recovery = user.recoveryCodes[0]!;
      const spent = await Promise.all([
        verify(ctx.services, user.id, { recoveryCode: recovery }),
        verify(other, user.id, { recoveryCode: recovery }),
      ]);
      expect(spent.filter((r) => r.ok)).toHaveLength(1);
    } finally {
      await second?.close();
    }
  });
});
