import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import type { SecretBox } from '../../platform/secret-box.js';
import type { ChannelProvider, ProviderDeps, ProviderKind } from './channels/channel.js';
import { outreachErrors } from './outreach.errors.js';
import * as repo from './provider.repo.js';
import type { CreateProviderInput, ProviderView, UpdateProviderInput } from './provider.schemas.js';

type AnyKind = ProviderKind<Record<string, unknown>, Record<string, unknown>>;

export interface ProviderServiceDeps {
  db: Database;
  clock: Clock;
  box: SecretBox;
  kinds: ReadonlyMap<string, AnyKind>;
  providerDeps: ProviderDeps;
}

export type ProviderService = ReturnType<typeof createProviderService>;

/** A provider ready to send: its row, its kind, and the adapter instance (shared while the row is unchanged). */
export interface LiveProvider {
  row: repo.ProviderRow;
  kind: AnyKind;
  adapter: ChannelProvider;
  config: Record<string, unknown>;
  secrets: Record<string, unknown>;
}

export function createProviderService(deps: ProviderServiceDeps) {
  const { db, clock, box, kinds } = deps;
  const live = new Map<string, { stamp: number; provider: LiveProvider }>();

  function kindOf(name: string): AnyKind {
    const kind = kinds.get(name);
    if (!kind) throw outreachErrors.unknownProviderKind(name, [...kinds.keys()]);
    return kind;
  }

  function toView(row: repo.ProviderRow): ProviderView {
    let fields: string[] = [];
    try {
      fields = Object.keys(box.open<Record<string, unknown>>(row.secrets_sealed)).sort();
    } catch {
      fields = [];
    }
    return {
      provider_id: row.provider_id,
      tenant_id: row.tenant_id,
      name: row.name,
      channel: row.channel,
      kind: row.kind,
      config: row.config,
      secret_fields: fields,
      rate_per_second: row.rate_per_second,
      is_default: row.is_default,
      callback_url: `/v1/outreach/callbacks/${row.provider_id}/status`,
      inbound_url: `/v1/outreach/callbacks/${row.provider_id}/inbound`,
      created_by: row.created_by,
      updated_by: row.updated_by,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }

  function check(kind: AnyKind, config: Record<string, unknown>, secrets: Record<string, unknown>) {
    const problem = kind.check(config, secrets);
    if (problem) throw outreachErrors.providerConfigInvalid(problem);
  }

  async function requireRow(exec: Executor, tenantId: string, providerId: string) {
    const row = await repo.findProvider(exec, tenantId, providerId);
    if (!row) throw outreachErrors.providerNotFound(providerId);
    return row;
  }

  function liveFor(row: repo.ProviderRow): LiveProvider {
    const stamp = row.updated_at.getTime();
    const cached = live.get(row.provider_id);
    if (cached && cached.stamp === stamp) return cached.provider;
    if (cached) void cached.provider.adapter.close?.();
    const kind = kindOf(row.kind);
    const config = row.config as Record<string, unknown>;
    const secrets = box.open<Record<string, unknown>>(row.secrets_sealed);
    const provider = { row, kind, config, secrets, adapter: kind.create(config, secrets, deps.providerDeps) };
    live.set(row.provider_id, { stamp, provider });
    return provider;
  }

  return {
    async createProvider(actor: Actor, input: CreateProviderInput, exec: Executor = db): Promise<ProviderView> {
      const tenant = requireTenant(actor);
      const kind = kindOf(input.kind);
      check(kind, input.config, input.secrets);
      return inTransaction(exec, async (trx) => {
        if (input.is_default) await repo.clearDefault(trx, tenant.tenantId, kind.channel);
        const now = clock.now();
        const row = await repo.insertProvider(trx, {
          tenant_id: tenant.tenantId,
          provider_id: newId('prv', now.getTime()),
          name: input.name,
          channel: kind.channel,
          kind: kind.kind,
          config: JSON.stringify(input.config),
          secrets_sealed: box.seal(input.secrets),
          rate_per_second: input.rate_per_second ?? 10,
          is_default: input.is_default ?? false,
          created_by: tenant.keyId,
          updated_by: tenant.keyId,
          created_at: now,
          updated_at: now,
        });
        return toView(row);
      });
    },

    async listProviders(actor: Actor, exec: Executor = db) {
      return { providers: (await repo.listProviders(exec, requireTenant(actor).tenantId)).map(toView) };
    },

    async getProvider(actor: Actor, providerId: string, exec: Executor = db): Promise<ProviderView> {
      return toView(await requireRow(exec, requireTenant(actor).tenantId, providerId));
    },

    async updateProvider(actor: Actor, providerId: string, input: UpdateProviderInput, exec: Executor = db): Promise<ProviderView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const row = await requireRow(trx, tenant.tenantId, providerId);
        const kind = kindOf(row.kind);
        const config = input.config ?? (row.config as Record<string, unknown>);
        const secrets = input.secrets ?? box.open<Record<string, unknown>>(row.secrets_sealed);
        check(kind, config, secrets);
        if (input.is_default) await repo.clearDefault(trx, tenant.tenantId, row.channel);
        const updated = await repo.updateProvider(trx, tenant.tenantId, providerId, {
          ...(input.name !== undefined && { name: input.name }),
          ...(input.config !== undefined && { config: JSON.stringify(input.config) }),
          ...(input.secrets !== undefined && { secrets_sealed: box.seal(input.secrets) }),
          ...(input.rate_per_second !== undefined && { rate_per_second: input.rate_per_second }),
          ...(input.is_default !== undefined && { is_default: input.is_default }),
          updated_by: tenant.keyId,
          updated_at: clock.now(),
        });
        if (!updated) throw outreachErrors.providerNotFound(providerId);
        return toView(updated);
      });
    },

    async deleteProvider(actor: Actor, providerId: string, exec: Executor = db): Promise<void> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.updateProvider(exec, tenant.tenantId, providerId, { deleted_at: now, is_default: false, updated_at: now, updated_by: tenant.keyId });
      if (!row) throw outreachErrors.providerNotFound(providerId);
    },

    /** The provider a send uses: the named one, else the tenant's default for the channel (409 no_provider). */
    async resolve(tenantId: string, channel: string, providerId: string | null, exec: Executor = db): Promise<repo.ProviderRow> {
      const row = providerId ? await repo.findProvider(exec, tenantId, providerId) : await repo.findDefaultProvider(exec, tenantId, channel);
      if (!row) throw providerId ? outreachErrors.providerNotFound(providerId) : outreachErrors.noProvider(channel);
      return row;
    },

    /** The adapter of a provider by id, created once per version of its row (null when deleted). */
    async live(tenantId: string, providerId: string, exec: Executor = db): Promise<LiveProvider | null> {
      const row = await repo.findProvider(exec, tenantId, providerId);
      return row ? liveFor(row) : null;
    },

    /** For callback endpoints: the provider by id alone. */
    async liveById(providerId: string, exec: Executor = db): Promise<LiveProvider | null> {
      const row = await repo.findProviderById(exec, providerId);
      return row ? liveFor(row) : null;
    },

    async close(): Promise<void> {
      await Promise.all([...live.values()].map(async (l) => l.provider.adapter.close?.()));
      live.clear();
    },
  };
}
