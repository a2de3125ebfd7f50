/** Tasks and comments under a project. A foreign or unknown project is 404 before anything else. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { authorize } from '../authorize.ts';
import { notFound, parseInput } from '../errors.ts';
import { isUuid, text, uuid } from '../input.ts';
import type { Services } from '../services.ts';
import { projectOr404 } from './projects.ts';

const taskColumns = 'id, project_id as "projectId", title, done, assignee_id as "assigneeId", created_at as "createdAt"';
const commentColumns = 'id, project_id as "projectId", task_id as "taskId", author_id as "authorId", body, created_at as "createdAt"';

const createTask = z.object({ title: text(200), assigneeId: uuid.nullable().optional() }).strict();
const patchTask = z
  .object({ title: text(200), done: z.boolean(), assigneeId: uuid.nullable() })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');
const createComment = z.object({ body: z.string().trim().min(1).max(5000), taskId: uuid.optional() }).strict();

type ProjectParams = { Params: { id: string } };
type TaskParams = { Params: { id: string; taskId: string } };

export function taskRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;

  app.get<ProjectParams>('/projects/:id/tasks', async (request) =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const project = await projectOr404(tx, request.params.id, services);
      const { rows } = await tx.query(`select ${taskColumns} from tasks where project_id = $1 order by created_at, id`, [project.id]);
      return { tasks: rows };
    }),
  );

  app.post<ProjectParams>('/projects/:id/tasks', async (request, reply) => {
    const task = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      const project = await projectOr404(tx, request.params.id, services);
      const body = parseInput(createTask, request.body);
      // The composite foreign keys make a foreign assignee "not found", like a foreign project.
      const { rows } = await tx.query<{ id: string }>(
        `insert into tasks (project_id, title, assignee_id) values ($1, $2, $3) returning ${taskColumns}`,
        [project.id, body.title, body.assigneeId ?? null],
      );
      await audit(tx, 'task.created', 'task', rows[0]!.id, { projectId: project.id });
      return rows[0]!;
    });
    return reply.status(201).send(task);
  });

  app.patch<TaskParams>('/projects/:id/tasks/:taskId', async (request) =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      const project = await projectOr404(tx, request.params.id, services);
      if (!isUuid(request.params.taskId)) throw notFound();
      const body = parseInput(patchTask, request.body);
      const { rows } = await tx.query<{ id: string }>(
        `update tasks
            set title = coalesce($3, title), done = coalesce($4, done),
                assignee_id = case when $5::boolean then $6::uuid else assignee_id end
          where project_id = $1 and id = $2
      returning ${taskColumns}`,
        [project.id, request.params.taskId, body.title ?? null, body.done ?? null, 'assigneeId' in body, body.assigneeId ?? null],
      );
      if (!rows[0]) throw notFound();
      await audit(tx, 'task.updated', 'task', rows[0].id, { changed: Object.keys(body) });
      return rows[0];
    }),
  );

  app.get<ProjectParams>('/projects/:id/comments', async (request) =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const project = await projectOr404(tx, request.params.id, services);
      const { rows } = await tx.query(`select ${commentColumns} from comments where project_id = $1 order by created_at, id`, [project.id]);
      return { comments: rows };
    }),
  );

  app.post<ProjectParams>('/projects/:id/comments', async (request, reply) => {
    const comment = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      const project = await projectOr404(tx, request.params.id, services);
      const body = parseInput(createComment, request.body);
      const { rows } = await tx.query<{ id: string }>(
        `insert into comments (project_id, task_id, author_id, body) values ($1, $2, $3, $4) returning ${commentColumns}`,
        [project.id, body.taskId ?? null, request.tenantContext!.principal.userId, body.body],
      );
      await audit(tx, 'comment.created', 'comment', rows[0]!.id, { projectId: project.id });
      return rows[0]!;
    });
    return reply.status(201).send(comment);
  });
}
