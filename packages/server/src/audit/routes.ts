import { Readable } from 'node:stream';
import {
  AuditConfigSchema,
  AuditConfigUpdateSchema,
  AuditExportQuerySchema,
  AuditListQuerySchema,
  AuditPageSchema,
  AuditVerifyResultSchema,
} from '@strongroom/protocol';
import { API_PREFIX, type App } from '../http/app.js';
import { auditActor } from '../http/auth.js';
import type { Services } from '../compose.js';

const tags = ['audit'];

/** The audit log: view, export, configure, verify (spec §6). */
export async function registerAuditRoutes(app: App, services: Services): Promise<void> {
  const { auditLog } = services;

  app.get(
    `${API_PREFIX}/audit/events`,
    {
      config: { auth: { app: 'viewAuditLog' } },
      schema: {
        summary: 'List audit records, newest first, with filters and paging',
        tags,
        querystring: AuditListQuerySchema,
        response: { 200: AuditPageSchema },
      },
    },
    async (req) => auditLog.list(req.query),
  );

  app.get(
    `${API_PREFIX}/audit/export`,
    {
      config: { auth: { app: 'viewAuditLog' } },
      schema: {
        summary: 'Export the matching audit records, oldest first, as CSV or JSON lines',
        tags,
        querystring: AuditExportQuerySchema,
      },
    },
    async (req, reply) => {
      const { format, ...filter } = req.query;
      const file = await auditLog.export(filter, format, auditActor(req.actor, req.ip));
      return reply
        .type(file.contentType)
        .header('content-disposition', `attachment; filename="${file.fileName}"`)
        .send(Readable.from(file.chunks));
    },
  );

  app.get(
    `${API_PREFIX}/audit/config`,
    {
      config: { auth: { app: 'configureAuditLog' } },
      schema: {
        summary: 'Which audit event types are switched off',
        tags,
        response: { 200: AuditConfigSchema },
      },
    },
    async () => auditLog.getConfig(),
  );

  app.put(
    `${API_PREFIX}/audit/config`,
    {
      config: { auth: { app: 'configureAuditLog' } },
      schema: {
        summary: 'Switch audit event types off (the list replaces the previous one)',
        tags,
        body: AuditConfigUpdateSchema,
        response: { 200: AuditConfigSchema },
      },
    },
    async (req) => auditLog.setConfig(req.body.disabledEvents, auditActor(req.actor, req.ip)),
  );

  app.get(
    `${API_PREFIX}/audit/verify`,
    {
      config: { auth: { app: 'configureAuditLog' } },
      schema: {
        summary: 'Check the hash chain of the whole audit log',
        tags,
        response: { 200: AuditVerifyResultSchema },
      },
    },
    async () => auditLog.verify(),
  );
}
