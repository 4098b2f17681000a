import type { App } from './http/app.js';
import type { Services } from './compose.js';

/** Every area's routes, registered under /api/v1. One line per area. */
export async function registerRoutes(app: App, services: Services): Promise<void> {
  void app;
  void services;
}
