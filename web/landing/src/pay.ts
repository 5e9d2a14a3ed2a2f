/** Where the page runs decides how it pays: WeChat's JSAPI, a mobile browser's H5 page, or a QR. */
export const inWeChat = () => /MicroMessenger/i.test(navigator.userAgent);
export const onMobile = () => /Android|iPhone|iPad|iPod|Mobile|HarmonyOS/i.test(navigator.userAgent);
/** JSAPI inside WeChat when the payer's openid is known; H5 in other mobile browsers (WeChat refuses H5 in its own browser); else Native (a QR). */
export const scene = (openid: string | null): 'jsapi' | 'h5' | 'native' => (inWeChat() ? (openid ? 'jsapi' : 'native') : onMobile() ? 'h5' : 'native');

/** WeChat's in-app payment sheet; resolves with its `err_msg` (get_brand_wcpay_request:ok, :cancel, :fail). */
export function weChatPay(params: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const invoke = () => window.WeixinJSBridge!.invoke('getBrandWCPayRequest', params, (res) => resolve(res.err_msg));
    if (window.WeixinJSBridge) invoke();
    else document.addEventListener('WeixinJSBridgeReady', invoke, { once: true });
  });
}

/** WeChat Pay's H5 page, coming back to this page when done. */
export function h5Pay(url: string): void {
  const back = encodeURIComponent(location.href);
  location.href = `${url}${url.includes('?') ? '&' : '?'}redirect_url=${back}`;
}

export const yuan = (fen: number) => (fen / 100).toFixed(2);
