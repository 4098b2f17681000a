import { Type, type Static } from 'typebox';

/**
 * Administrator settings of the Pleasant-compatible REST API (`/api/v5/rest`, `/api/v6/rest`),
 * kept in the database so every server process applies them at once. Changed through the native
 * API (`/api/v1/settings/pleasant-api`).
 */
export const PleasantApiSettingsSchema = Type.Object({
  /**
   * Whether user access rows (grants) may be read and changed through the Pleasant-compatible
   * API (`…/useraccess`). Off by default: automation then sees and changes no access.
   */
  userAccessEnabled: Type.Boolean(),
});
export type PleasantApiSettings = Static<typeof PleasantApiSettingsSchema>;

export const DEFAULT_PLEASANT_API_SETTINGS: PleasantApiSettings = { userAccessEnabled: false };

export const UpdatePleasantApiSettingsSchema = Type.Object(
  { userAccessEnabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdatePleasantApiSettings = Static<typeof UpdatePleasantApiSettingsSchema>;

/** The client label of offline caches registered through the Pleasant-compatible API. */
export const PLEASANT_OFFLINE_CLIENT_LABEL = 'pleasant-api';
