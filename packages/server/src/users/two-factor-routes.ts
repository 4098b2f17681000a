import { Type } from 'typebox';
import {
  DisableTwoFactorRequest,
  IdSchema,
  RecoveryCodesResponse,
  TotpCodeRequest,
  TwoFactorEnrolment,
  TwoFactorStatus,
  UserView,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import type { Actor } from '../http/auth.js';
import { identityOf } from './identity.js';
import { twoFactorOf } from './two-factor.js';
import { caller, noBody } from '../http/request.js';

const IdParams = Type.Object({ id: IdSchema }, { additionalProperties: false });
const NoContent = Type.Null();

/**
 * TOTP two-factor (spec §4). The caller's own routes need only a session ('session'), so a user
 * whose login waits for a forced enrolment can enrol. Routes that take a code count each attempt
 * against a per-user rate limit (the login limit's window and count), so codes cannot be guessed.
 */
export async function registerTwoFactorRoutes(app: App, services: Services): Promise<void> {
  const twoFactor = twoFactorOf(services);
  const { auth, users } = identityOf(services);
  const ME = `${API_PREFIX}/me/two-factor`;
  const limitCodes = (actor: Actor) =>
    auth.checkRateLimit([`two-factor:user:${actor.userId}`], 'two-factor code attempts');

  app.get(
    ME,
    {
      config: { auth: 'session' },
      schema: {
        summary: 'Your two-factor status: enabled, recovery codes left, enrolment waiting',
        tags: ['two-factor'],
        response: { 200: TwoFactorStatus },
      },
    },
    async (req) => twoFactor.status(caller(req)),
  );

  app.post(
    `${ME}/enrolment`,
    {
      preValidation: noBody,
      config: { auth: 'session' },
      schema: {
        summary:
          'Begin (or begin again) enrolling an authenticator app: secret, otpauth URI, QR code',
        tags: ['two-factor'],
        response: { 200: TwoFactorEnrolment },
      },
    },
    async (req) => twoFactor.beginEnrolment(caller(req)),
  );

  app.post(
    `${ME}/enrolment/confirm`,
    {
      config: { auth: 'session' },
      schema: {
        summary: 'Confirm the enrolment with a code from the app; returns 10 recovery codes',
        tags: ['two-factor'],
        body: TotpCodeRequest,
        response: { 200: RecoveryCodesResponse },
      },
    },
    async (req) => {
      const actor = caller(req);
      await limitCodes(actor);
      return twoFactor.confirmEnrolment(actor, req.body.code);
    },
  );

  app.post(
    `${ME}/recovery-codes`,
    {
      config: { auth: 'session' },
      schema: {
        summary: 'Replace your recovery codes (needs a current code from the app)',
        tags: ['two-factor'],
        body: TotpCodeRequest,
        response: { 200: RecoveryCodesResponse },
      },
    },
    async (req) => {
      const actor = caller(req);
      await limitCodes(actor);
      return twoFactor.regenerateRecoveryCodes(actor, req.body.code);
    },
  );

  app.delete(
    ME,
    {
      config: { auth: 'session' },
      schema: {
        summary:
          'Turn two-factor off with a code or a recovery code (not when your policy requires it)',
        tags: ['two-factor'],
        body: DisableTwoFactorRequest,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const actor = caller(req);
      await limitCodes(actor);
      await twoFactor.disable(actor, req.body);
      return reply.status(204).send();
    },
  );

  app.post(
    `${API_PREFIX}/users/:id/two-factor/reset`,
    {
      preValidation: noBody,
      config: { auth: { app: 'manageUsers' } },
      schema: {
        summary: "Reset a user's two-factor (removes it and ends their sessions; they enrol again)",
        tags: ['users'],
        params: IdParams,
        response: { 200: UserView },
      },
    },
    async (req) => {
      await twoFactor.adminReset(caller(req), req.params.id);
      return users.get(req.params.id);
    },
  );
}
