import type { Updateable } from 'kysely';
import { afterCommit, type Database, type Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { operatorErrors } from './operator.errors.js';
import * as repo from './operator.repo.js';
import type { CreateOperatorInput, OperatorListQueryType, OperatorView, UpdateOperatorInput } from './operator.schemas.js';
import type { OperatorTable } from './operator.tables.js';
import { toOperatorView } from './operator.view.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './password.js';

export type OperatorService = ReturnType<typeof createOperatorService>;

/**
 * Operator accounts. A tenant admin (key or operator) manages its own tenant's operators; the
 * master key (or a platform operator, who acts as it) manages any, and platform operators.
 * Another tenant's operator looks absent (404).
 */
export function createOperatorService(deps: {
  db: Database;
  clock: Clock;
  tenantExists: (tenantId: string, exec: Executor) => Promise<void>;
  /** Ends the operator's cached sessions in this process (their rows are deleted with the change). */
  forgetSessions: (operatorId: string) => void;
}) {
  const { db, clock } = deps;

  function assertAdmin(actor: Actor): void {
    if (actor.kind === 'tenant' && actor.role !== 'admin') {
      throw new AppError('forbidden', 'insufficient_role', 'This call needs a key with the admin role', { required_role: 'admin', key_role: actor.role });
    }
  }

  /** The operator if the caller may manage it, else 404 (another tenant's looks absent). */
  async function manageable(actor: Actor, operatorId: string, exec: Executor): Promise<repo.OperatorRow> {
    assertAdmin(actor);
    const row = await repo.findOperator(exec, operatorId);
    if (!row || (actor.kind === 'tenant' && row.tenant_id !== actor.tenantId)) throw notFound('operator', operatorId);
    return row;
  }

  return {
    async createOperator(actor: Actor, input: CreateOperatorInput, exec: Executor = db): Promise<OperatorView> {
      assertAdmin(actor);
      if (input.password.length < MIN_PASSWORD_LENGTH) throw operatorErrors.passwordTooShort('password', MIN_PASSWORD_LENGTH);
      let tenantId: string | null;
      if (actor.kind === 'tenant') {
        if (input.tenant_id === null) throw operatorErrors.platformOnly();
        tenantId = actor.tenantId;
      } else {
        tenantId = input.tenant_id ?? null;
      }
      if (tenantId !== null) await deps.tenantExists(tenantId, exec);
      const passwordHash = await hashPassword(input.password);
      const now = clock.now();
      const row = await repo.insertOperator(exec, {
        operator_id: newId('opr', now.getTime()),
        tenant_id: tenantId,
        email: input.email.trim(),
        name: input.name ?? input.email.trim(),
        role: input.role ?? 'viewer',
        password_hash: passwordHash,
        disabled: false,
        created_at: now,
        updated_at: now,
        password_changed_at: now,
      });
      return toOperatorView(row);
    },

    async listOperators(actor: Actor, query: OperatorListQueryType, exec: Executor = db) {
      assertAdmin(actor);
      const page = toPage(query);
      const scope = actor.kind === 'tenant' ? actor.tenantId : query.platform ? null : query.tenant_id;
      const { rows, total } = await repo.listOperators(exec, scope, page);
      return { operators: rows.map(toOperatorView), pagination: pagination(total, page) };
    },

    async getOperator(actor: Actor, operatorId: string, exec: Executor = db): Promise<OperatorView> {
      return toOperatorView(await manageable(actor, operatorId, exec));
    },

    /**
     * Renames, changes the role, disables or resets the password; disabling or a new password ends
     * every session. `self`: the signed-in operator making the call, who may not disable or demote itself.
     */
    async updateOperator(actor: Actor, operatorId: string, input: UpdateOperatorInput, exec: Executor = db, self: string | null = null): Promise<OperatorView> {
      if (input.name === undefined && input.role === undefined && input.disabled === undefined && input.password === undefined) throw operatorErrors.emptyUpdate();
      const current = await manageable(actor, operatorId, exec);
      if (self === operatorId && (input.disabled === true || (input.role !== undefined && input.role !== current.role))) throw operatorErrors.ownAccount();
      const now = clock.now();
      const changes: Updateable<OperatorTable> = { updated_at: now };
      if (input.name !== undefined) changes.name = input.name;
      if (input.role !== undefined) changes.role = input.role;
      if (input.disabled !== undefined) changes.disabled = input.disabled;
      if (input.password !== undefined) {
        changes.password_hash = await hashPassword(input.password);
        changes.password_changed_at = now;
      }
      const row = await repo.updateOperator(exec, operatorId, changes);
      if (!row) throw notFound('operator', operatorId);
      if (input.disabled === true || input.password !== undefined) await repo.deleteSessionsOf(exec, operatorId);
      // Also a new role or name: the cached sessions are read again with it.
      afterCommit(exec, () => deps.forgetSessions(operatorId));
      return toOperatorView(row);
    },

    /** Deletes the operator and its sessions (its audit entries stay). */
    async deleteOperator(actor: Actor, operatorId: string, exec: Executor = db, self: string | null = null): Promise<OperatorView> {
      await manageable(actor, operatorId, exec);
      if (self === operatorId) throw operatorErrors.ownAccount();
      const row = await repo.deleteOperator(exec, operatorId);
      if (!row) throw notFound('operator', operatorId);
      afterCommit(exec, () => deps.forgetSessions(operatorId));
      return toOperatorView(row);
    },
  };
}
