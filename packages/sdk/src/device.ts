import { randomId } from './ids.js';
import type { WxLike } from './wx.js';

export type SdkEnv = 'web' | 'app' | 'mini';

/** Where a device id is kept: localStorage on the web, wx storage in a mini-program, or your own. */
export interface DeviceStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

export const DEVICE_ID_KEY = 'marketing_hub.device_id';

interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The env's own storage: localStorage (web), wx.getStorageSync / setStorageSync (mini), else none. */
export function defaultDeviceStorage(env: SdkEnv, wx?: WxLike): DeviceStorage | null {
  if (env === 'web') {
    try {
      const local = (globalThis as { localStorage?: WebStorage }).localStorage;
      if (local) return { get: (k) => local.getItem(k), set: (k, v) => local.setItem(k, v) };
    } catch {
      // storage refused (privacy mode, sandboxed frame): fall through to memory
    }
    return null;
  }
  if (env === 'mini') {
    const w = wx ?? (globalThis as { wx?: WxLike }).wx;
    const get = w?.getStorageSync?.bind(w);
    const set = w?.setStorageSync?.bind(w);
    if (get && set) {
      return {
        get: (k) => {
          const value = get(k);
          return typeof value === 'string' && value !== '' ? value : null;
        },
        set: (k, v) => set(k, v),
      };
    }
    return null;
  }
  return null;
}

/**
 * This device's id: the one stored before, or a new random one, stored at once, so it survives
 * reloads and restarts. Without storage (Node, an app without a store, storage refused) the id lives
 * as long as the SDK object; pass `deviceId` to keep your own.
 */
export function loadDeviceId(storage: DeviceStorage | null): string {
  try {
    const stored = storage?.get(DEVICE_ID_KEY);
    if (stored) return stored;
  } catch {
    // unreadable storage: a fresh id
  }
  const id = randomId();
  try {
    storage?.set(DEVICE_ID_KEY, id);
  } catch {
    // storage full or refused: the id lives in memory only
  }
  return id;
}
