/**
 * The console's live preview: framed by the console (same origin) with `?preview=1`, the page
 * renders the unsaved form the console posts to it, as a visitor would see it, and sends nothing
 * (no page view, no order).
 */
import type { PublicForm } from './api';

export const previewing = new URLSearchParams(location.search).get('preview') === '1' && window.parent !== window;

/** Calls `apply` with each draft the console posts; tells the console the page is ready for one. */
export function onDraft(apply: (form: PublicForm) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    if (event.origin !== location.origin || event.source !== window.parent) return;
    const data = event.data as { type?: unknown; form?: PublicForm } | null;
    if (data?.type === 'mh:preview' && data.form && typeof data.form === 'object') apply(data.form);
  });
  window.parent.postMessage({ type: 'mh:preview-ready' }, location.origin);
}
