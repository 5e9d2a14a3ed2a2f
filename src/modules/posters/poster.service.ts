import { LRUCache } from 'lru-cache';
import type { Actor } from '../../platform/actor.js';
import { AppError, invalidRequest } from '../../platform/errors.js';
import { fetchImage, type ImageLimits } from './poster.image.js';
import { renderPoster } from './poster.render.js';
import type { PosterInput } from './poster.schemas.js';

/** What the poster needs of a campaign: it exists for the caller (else the campaigns module's 404), its name, its image if any. */
export interface PosterCampaign {
  campaign_id: string;
  campaign_name: string;
  image_url?: string | null;
  metadata?: Record<string, unknown> | null;
}

/** A campaign the referral hub publishes (keyless posters), with its tenant and its referral image. */
export interface PublishedCampaign {
  tenant_id: string;
  campaign_id: string;
  campaign_name: string;
  image_url: string | null;
}

export interface PosterDeps {
  /** The campaign as the caller may see it (campaigns module, via app/services.ts); throws campaign_not_found. */
  getCampaign: (actor: Actor, campaignId: string) => Promise<PosterCampaign>;
  /**
   * Keyless calls: the campaign the referral hub publishes (enabled referral settings, campaign
   * ACTIVE), or the referral module's 404 campaign_not_found; absent: keyless calls are refused.
   */
  publishedCampaign?: (campaignId: string) => Promise<PublishedCampaign>;
  /** The bytes behind a `/media/...` path of this service (the media module), read without the network. */
  readLocal?: (path: string) => Promise<Buffer | null>;
  /** The address customers reach this service at (outreach.public_url); the landing page is `<it>/p/{campaign_id}`. */
  publicBaseUrl: string;
  image: ImageLimits;
  cacheTtlMs: number;
  cacheMaxBytes: number;
}

export type PosterService = ReturnType<typeof createPosterService>;

/** The referral landing URL of a campaign for a referrer and optional channel (what the QR code holds). */
export function landingUrl(publicBaseUrl: string, campaignId: string, userId: string, channelId?: string): string {
  const query = new URLSearchParams({ u_id: userId });
  if (channelId !== undefined) query.set('c_id', channelId);
  return `${publicBaseUrl.replace(/\/+$/, '')}/p/${encodeURIComponent(campaignId)}?${query.toString()}`;
}

/** The image a campaign names: a top-level image_url (referral campaigns), else metadata.image_url; http(s) or a path on this service. */
function campaignImage(campaign: PosterCampaign): string | null {
  const candidates = [campaign.image_url, campaign.metadata?.image_url, campaign.metadata?.main_image_url];
  const found = candidates.find((v): v is string => typeof v === 'string' && (/^https?:\/\//i.test(v) || /^\/(?!\/)/.test(v)));
  return found ?? null;
}

export function createPosterService(deps: PosterDeps) {
  const base = deps.publicBaseUrl.replace(/\/+$/, '');
  /** An image URL, or a path on this service: `/media/...` read from the media module, other paths fetched from the public URL. */
  async function loadImage(url: string): Promise<Buffer | null> {
    if (!url.startsWith('/')) return fetchImage(url, deps.image);
    if (url.startsWith('/media/') && deps.readLocal) return deps.readLocal(url).catch(() => null);
    return fetchImage(`${base}${url}`, deps.image);
  }

  // Rendered posters per (tenant, campaign, referrer, channel, title, name, image), with the
  // render in flight shared: a referrer who taps "share" five times renders once. Keyed by
  // tenant too, and only looked up after the campaign check, so no tenant reads another's.
  const cache = new LRUCache<string, Promise<Buffer>>({
    max: 10_000,
    ttl: Math.max(1, deps.cacheTtlMs),
    maxSize: Math.max(1, deps.cacheMaxBytes),
    // A pending render is counted at a typical poster size; the entry is set again with its real size when done.
    sizeCalculation: () => 200_000,
  });

  return {
    /**
     * The referral poster (PNG) of a campaign of the caller for one referrer; campaign_not_found
     * otherwise. Keyless (`actor` null): only a campaign the referral hub publishes, with its own
     * title and image (a keyless caller never makes the service fetch a URL of its choosing).
     */
    async generate(actor: Actor | null, input: PosterInput): Promise<Buffer> {
      let campaign: PosterCampaign;
      let tenant: string;
      if (actor) {
        campaign = await deps.getCampaign(actor, input.campaign_id);
        tenant = actor.kind === 'tenant' ? actor.tenantId : '';
      } else {
        for (const field of ['image_url', 'title'] as const) {
          if (input[field] !== undefined) throw invalidRequest(field, 'is taken from the campaign on a call without a key');
        }
        if (!deps.publishedCampaign) throw new AppError('unauthorized', 'unauthorized', 'Send an API key as `Authorization: Bearer <key>`');
        const published = await deps.publishedCampaign(input.campaign_id);
        campaign = published;
        tenant = published.tenant_id;
      }
      const imageUrl = input.image_url ?? campaignImage(campaign);
      const title = input.title ?? campaign.campaign_name;
      const key = JSON.stringify([tenant, campaign.campaign_id, input.user_id, input.channel_id ?? null, title, input.user_name ?? null, imageUrl]);
      if (deps.cacheTtlMs > 0) {
        const hit = cache.get(key);
        if (hit) return hit;
      }
      const render = (async () => {
        const image = imageUrl ? await loadImage(imageUrl) : null;
        return renderPoster({ title, userName: input.user_name ?? null, landingUrl: landingUrl(deps.publicBaseUrl, campaign.campaign_id, input.user_id, input.channel_id), image });
      })();
      if (deps.cacheTtlMs > 0) {
        cache.set(key, render);
        render.then(
          (png) => {
            if (cache.peek(key) === render) cache.set(key, render, { size: png.byteLength });
          },
          () => cache.delete(key),
        );
      }
      return render;
    },
  };
}
