export { createWechatClient, type WechatClient } from './wechat.client.js';
export { createWechatAuthService, type WechatAuthService } from './wechat.service.js';
export { wechatAuthRoutes } from './wechat.routes.js';
