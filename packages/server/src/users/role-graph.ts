/**
 * The built-in roles and the sub-role graph. Pure functions: callers load the rows.
 *
 * The built-in roles have fixed ids, so seeding them is idempotent under concurrency
 * (`insert … on conflict do nothing`) and nobody needs a query to find them.
 */
export const ADMINISTRATORS_ROLE_ID = '5a4c1f0e-9d3b-4e2a-8f61-0a7d3c2b1e01';
export const USERS_ROLE_ID = '5a4c1f0e-9d3b-4e2a-8f61-0a7d3c2b1e02';

export type BuiltinRole = 'administrators' | 'users';

export const BUILTIN_ROLES: ReadonlyArray<{ id: string; name: string; builtin: BuiltinRole }> = [
  { id: ADMINISTRATORS_ROLE_ID, name: 'Administrators', builtin: 'administrators' },
  { id: USERS_ROLE_ID, name: 'Users', builtin: 'users' },
];

export interface RoleEdge {
  /** The outer role. */
  role_id: string;
  /** The sub-role. */
  child_role_id: string;
}

/**
 * Every role a user belongs to: their direct roles, the built-in Users role, and every role that
 * contains one of those as a sub-role (transitively).
 */
export function roleClosure(directRoleIds: Iterable<string>, edges: readonly RoleEdge[]): string[] {
  const parents = new Map<string, string[]>();
  for (const e of edges) {
    const list = parents.get(e.child_role_id);
    if (list) list.push(e.role_id);
    else parents.set(e.child_role_id, [e.role_id]);
  }
  const seen = new Set<string>();
  const stack = [USERS_ROLE_ID, ...directRoleIds];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const p of parents.get(id) ?? []) if (!seen.has(p)) stack.push(p);
  }
  return [...seen];
}

/** The role and every role nested inside it (its members count as members of `roleId`). */
export function roleDescendants(roleId: string, edges: readonly RoleEdge[]): Set<string> {
  const children = new Map<string, string[]>();
  for (const e of edges) {
    const list = children.get(e.role_id);
    if (list) list.push(e.child_role_id);
    else children.set(e.role_id, [e.child_role_id]);
  }
  const seen = new Set<string>();
  const stack = [roleId];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const c of children.get(id) ?? []) if (!seen.has(c)) stack.push(c);
  }
  return seen;
}

/** True when making `childId` a sub-role of `parentId` would close a cycle. */
export function wouldCycle(parentId: string, childId: string, edges: readonly RoleEdge[]): boolean {
  return roleDescendants(childId, edges).has(parentId);
}
