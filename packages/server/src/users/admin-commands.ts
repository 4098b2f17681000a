import type { UserView } from '@strongroom/protocol';
import type { AuditActor } from '../audit/recorder.js';
import { notFound } from '../shared/errors.js';
import type { IdentityDeps } from './context.js';
import { identityOf } from './identity.js';
import { findUserByKey, loginKey } from './repository.js';

/** The actor recorded for changes made with the administration command line. */
export const ADMIN_COMMAND_ACTOR: AuditActor = {
  userId: null,
  loginName: 'strongroom-admin',
  ip: '',
};

/**
 * Creates a user from the command line. The user must change the password at first login.
 * Throws AppError (validation_failed, conflict) with a message fit for the terminal.
 */
export async function createUserCommand(
  services: IdentityDeps,
  input: { loginName: string; password: string; administrator: boolean },
): Promise<UserView> {
  return identityOf(services).users.create(ADMIN_COMMAND_ACTOR, {
    loginName: input.loginName,
    password: input.password,
    administrator: input.administrator,
    mustChangePassword: true,
  });
}

/**
 * Sets a user's password from the command line (the way back in when every administrator is
 * locked out): must be changed at next login, ends the user's sessions, clears a lockout.
 */
export async function resetPasswordCommand(
  services: IdentityDeps,
  loginName: string,
  newPassword: string,
): Promise<UserView> {
  const user = await findUserByKey(services.store.db, loginKey(loginName));
  if (!user) throw notFound(`The user ${loginName}`);
  return identityOf(services).users.resetPassword(ADMIN_COMMAND_ACTOR, user.id, newPassword);
}
