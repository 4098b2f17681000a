import { Type, type Static } from 'typebox';

/**
 * Wire schemas of TOTP two-factor (spec §4): enrolment by the user (QR code), recovery codes,
 * disabling, and the administrator's reset.
 */

/** A code from an authenticator app: 6 digits (RFC 6238, SHA-1, 30-second steps). */
export const TOTP_CODE_PATTERN = '^[0-9]{6}$';
export const TotpCodeSchema = Type.String({ pattern: TOTP_CODE_PATTERN, maxLength: 6 });

/** How many recovery codes an enrolment (or a regeneration) hands out. */
export const RECOVERY_CODE_COUNT = 10;

/**
 * A recovery code as the user may type it: 10 base32 characters (50 random bits), shown as
 * `xxxxx-xxxxx`; case, spaces and dashes do not matter.
 */
export const RECOVERY_CODE_PATTERN = '^[ -]*(?:[A-Za-z2-7][ -]*){10}$';
export const RecoveryCodeSchema = Type.String({ pattern: RECOVERY_CODE_PATTERN, maxLength: 40 });

export const TwoFactorStatus = Type.Object({
  /** TOTP is enrolled and asked for at login. */
  enabled: Type.Boolean(),
  /** ISO 8601, when the enrolment was confirmed; null when not enabled. */
  enrolledAt: Type.Union([Type.String(), Type.Null()]),
  /** Unused recovery codes. */
  recoveryCodesLeft: Type.Integer({ minimum: 0 }),
  /** An enrolment was begun and waits for its first code. */
  pendingEnrolment: Type.Boolean(),
  /** The caller's policy requires two-factor (it can then not be disabled). */
  required: Type.Boolean(),
});
export type TwoFactorStatus = Static<typeof TwoFactorStatus>;

export const TwoFactorEnrolment = Type.Object({
  /** The new secret in base32, for typing into an app that cannot scan. */
  secret: Type.String(),
  /** `otpauth://totp/Strongroom:<login>?secret=…&issuer=Strongroom&algorithm=SHA1&digits=6&period=30`. */
  otpauthUri: Type.String(),
  qrCode: Type.Object({
    /** `data:image/png;base64,…` */
    pngDataUrl: Type.String(),
    /** A standalone SVG document. */
    svg: Type.String(),
  }),
});
export type TwoFactorEnrolment = Static<typeof TwoFactorEnrolment>;

/** A current TOTP code: confirms an enrolment, or authorises new recovery codes. */
export const TotpCodeRequest = Type.Object(
  { code: TotpCodeSchema },
  { additionalProperties: false },
);
export type TotpCodeRequest = Static<typeof TotpCodeRequest>;

export const RecoveryCodesResponse = Type.Object({
  /** Shown once: only their hashes are stored. */
  recoveryCodes: Type.Array(Type.String(), {
    minItems: RECOVERY_CODE_COUNT,
    maxItems: RECOVERY_CODE_COUNT,
  }),
});
export type RecoveryCodesResponse = Static<typeof RecoveryCodesResponse>;

/** Disabling two-factor: a current TOTP code or an unused recovery code (exactly one). */
export const DisableTwoFactorRequest = Type.Object(
  {
    code: Type.Optional(TotpCodeSchema),
    recoveryCode: Type.Optional(RecoveryCodeSchema),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);
export type DisableTwoFactorRequest = Static<typeof DisableTwoFactorRequest>;
