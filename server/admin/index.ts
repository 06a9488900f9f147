/** The `/api/admin` routes of district and province officials (DESIGN §12). */
import type { FastifyInstance } from 'fastify';
import { registerAdminAccounts, type AdminDeps } from './accounts';
import { registerAdminUnits } from './units';
import { registerAdminZones } from './zones';

export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  registerAdminAccounts(app, deps);
  registerAdminZones(app, deps);
  registerAdminUnits(app, deps);
}
