/**
 * A resource server for items, protected by svcauth through the kit. What an account may see follows
 * its organization and its permissions per location: an item it may not view is simply absent (never 403, so a caller cannot
 * learn that it exists), and a private item also needs `items:read_private` at its location.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { koaMiddleware, type Principal, type Verifier } from '../../src/resource-server/index.ts';
import { type Item, itemView } from './items.ts';

export interface ItemsApiOptions {
  verifier: Verifier;
  items: readonly Item[];
}

export function canView(principal: Principal, item: Item): boolean {
  // Permissions (an organization-wide "*" grant included) speak of the principal's own organization.
  return (
    item.orgId === principal.orgId &&
    principal.can('items:read', item.locationId) &&
    (!item.private || principal.can('items:read_private', item.locationId))
  );
}

export function createItemsApi({ verifier, items }: ItemsApiOptions): Koa {
  const byId = new Map(items.map((item) => [item.id, item]));
  // Holding items:read nowhere is refused outright (403 insufficient_scope); where it is held, the
  // handlers filter per location.
  const authenticate = koaMiddleware(verifier, { required: ['items:read'] });
  const router = new Router();

  router.get('/items', authenticate, (ctx) => {
    const principal = ctx.state.principal as Principal;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: items.filter((item) => canView(principal, item)).map(itemView) };
  });

  router.get('/items/:id', authenticate, (ctx) => {
    const principal = ctx.state.principal as Principal;
    const item = byId.get(ctx.params.id!);
    ctx.set('Cache-Control', 'no-store');
    if (!item || !canView(principal, item)) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: `no item ${ctx.params.id}` };
      return;
    }
    ctx.body = itemView(item);
  });

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  const app = new Koa();
  app.silent = true;
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
