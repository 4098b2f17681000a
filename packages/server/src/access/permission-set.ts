import {
  VAULT_PERMISSIONS,
  type PermissionFlags,
  type VaultPermission,
} from '@strongroom/protocol';

/** Bit of each permission in a mask (order of the catalogue). */
const BIT: Record<VaultPermission, number> = Object.fromEntries(
  VAULT_PERMISSIONS.map((p, i) => [p, 1 << i]),
) as Record<VaultPermission, number>;

export const ALL_MASK = (1 << VAULT_PERMISSIONS.length) - 1;

export function toMask(perms: readonly VaultPermission[]): number {
  let m = 0;
  for (const p of perms) m |= BIT[p];
  return m;
}

export function fromMask(mask: number): VaultPermission[] {
  return VAULT_PERMISSIONS.filter((p) => (mask & BIT[p]) !== 0);
}

/** Effective A and G flags of a caller on one node. Immutable. */
export class Perms {
  static readonly NONE = new Perms(0, 0);
  static readonly ALL = new Perms(ALL_MASK, ALL_MASK);

  constructor(
    readonly allow: number,
    readonly grant: number,
  ) {}

  has(p: VaultPermission): boolean {
    return (this.allow & BIT[p]) !== 0;
  }

  canGrant(p: VaultPermission): boolean {
    return (this.grant & BIT[p]) !== 0;
  }

  union(other: Perms): Perms {
    if (other.allow === 0 && other.grant === 0) return this;
    return new Perms(this.allow | other.allow, this.grant | other.grant);
  }

  get isEmpty(): boolean {
    return this.allow === 0 && this.grant === 0;
  }

  /** Whether these G flags cover every A and G flag of `level` (the granting rule, spec §3). */
  mayGrantLevel(level: Perms): boolean {
    return ((level.allow | level.grant) & ~this.grant) === 0;
  }

  toFlags(): PermissionFlags {
    return { allow: fromMask(this.allow), grant: fromMask(this.grant) };
  }

  static fromFlags(flags: PermissionFlags): Perms {
    return new Perms(toMask(flags.allow), toMask(flags.grant));
  }
}
