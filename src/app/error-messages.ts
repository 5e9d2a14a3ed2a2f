import { AppError, type ErrorDetails } from '../platform/errors.js';
import type { Language } from '../platform/http/language.js';

/**
 * zh-CN messages of the generic error codes: those the app and the platform answer for any
 * route (validation, authentication and roles, rate limits, unknown routes, idempotency, body
 * and media type, server failures) and the shared ones of platform/shared-errors.ts. One table,
 * by code; the English message stays the one the error was made with (clients and tests match
 * it), and the `code` and `details` never change with the language. A code answered with several
 * English messages gets a function that picks the matching Chinese one. Module codes (coupons,
 * promotions, group-buys) are localized by their modules.
 */
type ZhMessage = string | ((details: ErrorDetails, english: string) => string);

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : fallback);

const roleMessage = (d: ErrorDetails) =>
  d.required_role ? `此操作需要 ${str(d.required_role)} 角色的 API 密钥${d.key_role ? `；当前密钥为 ${str(d.key_role)}` : ''}` : '此 API 密钥无权执行此操作';

export const zhMessages: Record<string, ZhMessage> = {
  // 400
  invalid_request: (d) => (d.field ? `请求参数 ${str(d.field)} 无效` : '请求无效'),
  invalid_json: (_d, en) => (en.startsWith('The body is empty') ? '请求体为空，但 Content-Type 为 application/json；请发送 {} 或不带 Content-Type' : '请求体不是合法的 JSON'),
  invalid_reference: '引用的资源不存在',
  unknown_product_code: (d) => `该租户下没有 product_code 为 ${Array.isArray(d.product_codes) ? d.product_codes.join(', ') : ''} 的应用；请先通过 POST /v1/apps 创建`,
  product_code_mismatch: '请求体中的 product_code 与 X-Product-Code 请求头不一致',
  invalid_import_header: (d) => `${str(d.field, 'header')}：导入文件的表头无效`,
  // 401
  unauthorized: (_d, en) =>
    en === 'Unknown API key' ? 'API 密钥无效' : en === 'This API key was revoked' ? '该 API 密钥已被吊销' : '请以 `Authorization: Bearer <key>` 方式提供 API 密钥',
  // 403
  forbidden: '无权执行此操作',
  master_key_required: '此操作需要平台主密钥',
  tenant_key_required: '此操作需要租户的 API 密钥，而不是主密钥',
  insufficient_role: roleMessage,
  read_only_key: roleMessage,
  tenant_mismatch: 'tenant_id 与 API 密钥所属的租户不一致',
  product_not_allowed: (d) => `此 API 密钥无权操作产品 ${str(d.product_code)}`,
  // Client requests (publishable key and user token, docs/clients.md)
  publishable_key_invalid: '可发布密钥（publishable key）无效或已被吊销',
  user_token_required: '此操作代表终端用户：请以 `Authorization: Bearer <token>` 方式提供用户令牌',
  user_token_invalid: '用户令牌无效',
  user_token_expired: '用户令牌已过期，请从您的服务端重新获取',
  origin_not_allowed: (d) => `此可发布密钥不允许来源 ${str(d.origin)}`,
  client_route_not_allowed: '此接口需要服务端 API 密钥；可发布密钥只能调用客户端接口',
  user_mismatch: (d) => `${str(d.field, 'user_id')} 必须是用户令牌中的用户`,
  // Console sign-in (operators module, docs/console.md): raised by the request hook as well as by routes.
  invalid_credentials: '邮箱或密码错误',
  not_signed_in: '请先登录：没有有效的控制台会话',
  csrf_token_invalid: '每次修改都须携带会话的 X-CSRF-Token 请求头',
  current_password_invalid: '当前密码错误',
  operator_email_taken: (d) => `已存在邮箱为 ${str(d.email)} 的操作员`,
  operator_own_account: '操作员不能停用、删除自己的账号或更改自己的角色；请联系其他管理员',
  operator_locked: (d) => `登录失败次数过多，请 ${str(d.retry_after_seconds, '1')} 秒后重试`,
  // 404
  route_not_found: (d) => `接口不存在：${str(d.method)} ${str(d.path)}`,
  // 409 / 422: idempotency and conflicts
  conflict: '资源已存在',
  request_in_progress: '使用该 Idempotency-Key 的请求正在处理中，请稍后重试',
  idempotency_key_reused: '该 Idempotency-Key 已用于不同的请求或其他 API 密钥；新的请求请使用新的 Key',
  reward_expired: (d) => `奖励已过期（有效期至 ${str(d.valid_until)}）`,
  inventory_exhausted: (d) => `库存不足：奖励 ${str(d.reward_id)} 仅剩 ${str(d.available, '0')} 件`,
  // 413 / 415
  payload_too_large: (d) => (typeof d.limit_bytes === 'number' ? `上传内容超过 ${d.limit_bytes} 字节` : '请求体过大'),
  unsupported_media_type: (d) => (Array.isArray(d.accepted) ? `上传内容的类型须为 ${d.accepted.join(' 或 ')}` : '请求体须为 application/json'),
  // 429
  rate_limited: (d) => {
    const seconds = str(d.retry_after_seconds, '1');
    if (d.rule === 'lockout') return `失败次数过多，请 ${seconds} 秒后重试`;
    return `请求过于频繁${d.rule ? `（${str(d.rule)} 限制）` : ''}，请 ${seconds} 秒后重试`;
  },
  // 5xx
  internal_error: '服务器内部错误，已连同请求 ID 记入日志',
  shutting_down: '服务器正在关闭，请重新发送请求（到其他实例）',
  database_unavailable: '数据库暂时不可用，请稍后重新发送请求',
  database_disk_full: '数据库磁盘已满，无法写入',
};

/** `<resource>_not_found` made by platform notFound(): `details.<resource>_id` names the id. */
function notFoundMessage(err: AppError): string | null {
  if (err.kind !== 'not_found' || !err.code.endsWith('_not_found')) return null;
  const resource = err.code.slice(0, -'_not_found'.length);
  const id = err.details?.[`${resource}_id`];
  return typeof id === 'string' ? `${resource} ${id} 不存在` : null;
}

/** A not-found message already in Chinese was localized by its module: kept. */
const CJK = /[\u3400-\u9fff]/;

/**
 * The error with its message in `lang`: for zh-CN the table's message (modules answer none of
 * these codes), else for a `<resource>_not_found` a module did not localize, a generic sentence;
 * otherwise the error as it is. The same kind, code and details, so the status and body shape hold.
 */
export function localizeError(err: AppError, lang: Language): AppError {
  if (lang !== 'zh-CN') return err;
  const entry = zhMessages[err.code];
  const message =
    entry === undefined ? (CJK.test(err.message) ? null : notFoundMessage(err)) : typeof entry === 'string' ? entry : entry(err.details ?? {}, err.message);
  return message === null ? err : new AppError(err.kind, err.code, message, err.details);
}

/** zh-CN for one schema validation issue (Ajv keyword and params), after the field name. */
export function validationIssueZh(keyword: string, params: Record<string, unknown>): string {
  const limit = str(params.limit);
  switch (keyword) {
    case 'required':
      return '为必填项';
    case 'additionalProperties':
      return '不是已知字段';
    case 'anyOf':
    case 'oneOf':
    case 'const':
    case 'enum':
      return '不是允许的取值';
    case 'type':
      return `类型应为 ${str(params.type)}`;
    case 'minimum':
      return `不能小于 ${limit}`;
    case 'exclusiveMinimum':
      return `必须大于 ${limit}`;
    case 'maximum':
      return `不能大于 ${limit}`;
    case 'exclusiveMaximum':
      return `必须小于 ${limit}`;
    case 'minLength':
      return `长度不能少于 ${limit} 个字符`;
    case 'maxLength':
      return `长度不能超过 ${limit} 个字符`;
    case 'minItems':
      return `至少需要 ${limit} 项`;
    case 'maxItems':
      return `最多 ${limit} 项`;
    case 'minProperties':
      return `至少需要 ${limit} 个字段`;
    case 'maxProperties':
      return `最多 ${limit} 个字段`;
    case 'format':
      return `格式应为 ${str(params.format)}`;
    case 'pattern':
      return '格式不正确';
    case 'multipleOf':
      return `必须是 ${str(params.multipleOf)} 的倍数`;
    case 'uniqueItems':
      return '不能包含重复项';
    default:
      return '无效';
  }
}
