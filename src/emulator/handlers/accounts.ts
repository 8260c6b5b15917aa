/** GET /api/accounts and /api/accounts/{id}: the store's single account. */
import { notFound } from '../http/api-error.js';
import { listDocument, singleDocument, type RowSource } from './read.js';
import type { Handler } from './types.js';

export const accountHandlers: Record<string, Handler> = {
  get_accounts: (ctx) => {
    const account = ctx.store.account;
    const source: RowSource = {
      type: 'account',
      rows: () => [{ resource: account }],
      lookup: (id) => (id === account.id ? { resource: account } : undefined),
    };
    return listDocument(ctx, source);
  },
  get_account: (ctx) => {
    const account = ctx.store.account;
    if (ctx.params.id !== account.id) throw notFound(`An account with id '${ctx.params.id}' does not exist.`);
    return singleDocument(ctx, { resource: account });
  },
};
