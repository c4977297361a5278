/** The organization's locations and roles, by id: what forms offer and what lists name. */
import { all, type Api, type Location, ok, type Role } from './api/client.js';

export interface Directory {
  locations: Location[];
  roles: Role[];
  locationName(id: string): string;
  roleName(id: string): string;
}

export async function loadDirectory(api: Api): Promise<Directory> {
  const [locations, roles] = await Promise.all([
    all((cursor) => ok(api.GET('/admin/v1/locations', { params: { query: { limit: 200, cursor } } }))),
    all((cursor) => ok(api.GET('/admin/v1/roles', { params: { query: { limit: 200, cursor } } }))),
  ]);
  const locationNames = new Map(locations.map((l) => [l.id, l.name]));
  const roleNames = new Map(roles.map((r) => [r.id, r.name]));
  return {
    locations,
    roles,
    locationName: (id) => locationNames.get(id) ?? `unknown location ${id.slice(0, 8)}`,
    roleName: (id) => roleNames.get(id) ?? `unknown role ${id.slice(0, 8)}`,
  };
}
