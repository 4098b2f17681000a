import type { App } from './http/app.js';
import type { Services } from './compose.js';
import { registerUserRoutes } from './users/routes.js';
import { registerAuditRoutes } from './audit/routes.js';
import { registerAccessRoutes } from './access/routes.js';
import { registerVaultRoutes } from './vault/routes.js';
import { registerClientConfigRoutes } from './clientconfig/routes.js';
import { registerPolicyRoutes } from './policies/routes.js';
import { registerOfflineRoutes } from './offline/routes.js';
import { registerPleasantRoutes } from './pleasant/routes.js';

/**
 * Every area's routes, registered under /api/v1 (the Pleasant-compatible API under its own
 * prefixes). One line per area.
 */
export async function registerRoutes(app: App, services: Services): Promise<void> {
  await registerUserRoutes(app, services);
  await registerAuditRoutes(app, services);
  await registerAccessRoutes(app, services);
  await registerVaultRoutes(app, services);
  await registerClientConfigRoutes(app, services);
  await registerPolicyRoutes(app, services);
  await registerOfflineRoutes(app, services);
  await registerPleasantRoutes(app, services);
  void app;
  void services;
}
