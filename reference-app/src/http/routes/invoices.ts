/**
 * Invoices, numbered 1, 2, 3 … per tenant (a per-tenant counter row, locked by the upsert): a
 * tenant's numbers say nothing about how many invoices other tenants issue.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { authorize } from '../authorize.ts';
import { notFound, parseInput } from '../errors.ts';
import { cents, isUuid, uuid } from '../input.ts';
import type { Services } from '../services.ts';

const columns = 'id, number, project_id as "projectId", amount_cents::float8 as "amountCents", status, issued_at as "issuedAt"';
const createInvoice = z.object({ amountCents: cents, projectId: uuid.optional() }).strict();

export function invoiceRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;

  app.get('/invoices', async () =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'billing:read');
      const { rows } = await tx.query(`select ${columns} from invoices order by number`);
      return { invoices: rows };
    }),
  );

  app.get<{ Params: { id: string } }>('/invoices/:id', async (request) =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'billing:read');
      if (!isUuid(request.params.id)) throw notFound();
      const { rows } = await tx.query(`select ${columns} from invoices where id = $1`, [request.params.id]);
      if (!rows[0]) throw notFound();
      return rows[0];
    }),
  );

  app.post('/invoices', async (request, reply) => {
    const body = parseInput(createInvoice, request.body);
    // `invoice-number-global`: one sequence for every tenant (taken before the tenant transaction).
    const globalNumber = services.vulnerable.has('invoice-number-global')
      ? (await services.pool.query<{ n: number }>(`select nextval('app.invoice_number_global')::int as n`)).rows[0]!.n
      : undefined;
    const invoice = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'billing:write');
      const { rows: counter } = await tx.query<{ n: number }>(
        `insert into invoice_counters (last_number) values (1)
         on conflict (tenant_id) do update set last_number = invoice_counters.last_number + 1
         returning last_number as n`,
      );
      if (globalNumber !== undefined) counter[0]!.n = globalNumber;
      const { rows } = await tx.query<{ id: string }>(
        `insert into invoices (number, project_id, amount_cents) values ($1, $2, $3) returning ${columns}`,
        [counter[0]!.n, body.projectId ?? null, body.amountCents],
      );
      await audit(tx, 'invoice.created', 'invoice', rows[0]!.id, { number: counter[0]!.n, amountCents: body.amountCents });
      return rows[0]!;
    });
    return reply.status(201).send(invoice);
  });
}
