import { Liquid, type Template } from 'liquidjs';
import { LRUCache } from 'lru-cache';
import { outreachErrors } from './outreach.errors.js';

/**
 * Outreach templates: Liquid (`{{ customer.name }}`, tags, filters) plus the product document's
 * bracket names (`[客户姓名]`, `[链接]`), which are rewritten to Liquid before parsing. Everything
 * that can be wrong with a template is found when it is saved (parse errors, unknown variables,
 * lengths); rendering for a send never fails on a missing value, it prints the default or nothing.
 */

export const TEMPLATE_CHANNELS = ['sms', 'email', 'push_notification', 'webhook'] as const;
export type TemplateChannel = (typeof TEMPLATE_CHANNELS)[number];

/** Length limits in characters (code points) of the template text as saved. */
export const LIMITS = { smsText: 500, pushTitle: 100 } as const;

/** The product document's bracket names and the variables they stand for. */
export const BRACKET_NAMES: Readonly<Record<string, string>> = {
  客户姓名: 'customer.name',
  姓名: 'customer.name',
  手机号: 'customer.phone',
  邮箱: 'customer.email',
  链接: 'link',
  活动名称: 'campaign.name',
  退订链接: 'unsubscribe_url',
};

/** What one render can use; every field optional, a missing one renders as its default or empty. */
export interface RenderVariables {
  customer: { user_id: string; name?: unknown; phone?: unknown; email?: unknown; attributes: Record<string, unknown>; tags: string[] };
  link?: string | undefined;
  campaign?: { name?: string | undefined } | undefined;
  unsubscribe_url?: string | undefined;
}

type Defaults = Record<string, string | number | boolean>;

// Templates have no files to include: include / render / layout are not tags here, so naming one
// is a parse error at save time rather than a failure at send time.
function engine(options: { html?: boolean; strictVariables?: boolean }): Liquid {
  const liquid = new Liquid({
    strictFilters: true,
    strictVariables: options.strictVariables ?? false,
    ownPropertyOnly: true,
    templates: {},
    // A loop over a huge range must not hold a worker: the render stops (and is an error) instead.
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
    ...(options.html ? { outputEscape: 'escape' as const } : {}),
  });
  for (const tag of ['include', 'render', 'layout', 'block']) delete (liquid.tags as Record<string, unknown>)[tag];
  return liquid;
}
const validator = engine({ strictVariables: true });
const textEngine = engine({});
const htmlEngine = engine({ html: true });

const BRACKET_OR_MARKUP = /(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})|\[([^[\]\s{}%|]{1,32})\]/g;
const HAN = /\p{Script=Han}/u;

interface Rewrite {
  source: string;
  /** Converted offset -> offset in the text as sent. */
  toOriginal: (offset: number) => number;
}

/** Rewrites `[客户姓名]` to `{{ customer.name }}` outside Liquid markup; an unknown bracket name is an unknown variable. */
function rewriteBrackets(field: string, text: string): Rewrite {
  const shifts: { convStart: number; convEnd: number; origStart: number; delta: number }[] = [];
  let out = '';
  let last = 0;
  for (const m of text.matchAll(BRACKET_OR_MARKUP)) {
    const name = m[2];
    if (m[1] !== undefined || name === undefined || !HAN.test(name)) continue;
    const variable = BRACKET_NAMES[name];
    if (!variable) {
      const { line, col } = lineCol(text, m.index);
      throw outreachErrors.templateInvalid(field, line, col, `unknown variable [${name}]`);
    }
    const liquid = `{{ ${variable} }}`;
    out += text.slice(last, m.index);
    shifts.push({ convStart: out.length, convEnd: out.length + liquid.length, origStart: m.index, delta: liquid.length - m[0].length });
    out += liquid;
    last = m.index + m[0].length;
  }
  out += text.slice(last);
  return {
    source: out,
    toOriginal(offset) {
      let d = 0;
      for (const s of shifts) {
        if (offset < s.convStart) break;
        if (offset < s.convEnd) return s.origStart;
        d += s.delta;
      }
      return offset - d;
    },
  };
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

function offsetOf(text: string, line: number, col: number): number {
  let offset = 0;
  for (let i = 1; i < line; i += 1) {
    const next = text.indexOf('\n', offset);
    if (next < 0) break;
    offset = next + 1;
  }
  return offset + col - 1;
}

const CUSTOMER_FIELDS = new Set(['user_id', 'name', 'phone', 'email']);

/** Whether a variable path (as Liquid's analysis gives it) is one a send supplies. */
export function isKnownVariable(segments: readonly unknown[]): boolean {
  const [root, second] = segments;
  const tail = segments.length;
  switch (root) {
    case 'link':
    case 'unsubscribe_url':
      return tail === 1 || (tail === 2 && second === 'size');
    case 'campaign':
      return second === 'name' && (tail === 2 || (tail === 3 && segments[2] === 'size'));
    case 'customer':
      if (second === 'attributes' || second === 'tags') return true;
      return typeof second === 'string' && CUSTOMER_FIELDS.has(second) && (tail === 2 || (tail === 3 && segments[2] === 'size'));
    default:
      return false;
  }
}

function parseField(field: string, text: string): Template[] {
  const rewrite = rewriteBrackets(field, text);
  let parsed: Template[];
  try {
    parsed = validator.parse(rewrite.source);
  } catch (err) {
    const position = (err as { token?: { getPosition?: () => [number, number] } }).token?.getPosition?.() ?? [1, 1];
    const at = lineCol(text, rewrite.toOriginal(offsetOf(rewrite.source, position[0], position[1])));
    const message = String((err as Error).message ?? err).replace(/, line:\d+, col:\d+$/, '');
    throw outreachErrors.templateInvalid(field, at.line, at.col, message);
  }
  const analysis = validator.analyzeSync(parsed);
  for (const variable of Object.values(analysis.globals).flat()) {
    if (!isKnownVariable(variable.segments)) {
      const loc = variable.location;
      const at = lineCol(text, rewrite.toOriginal(offsetOf(rewrite.source, loc.row, loc.col)));
      throw outreachErrors.templateInvalid(field, at.line, at.col, `unknown variable ${String(variable)}`);
    }
  }
  return parsed;
}

interface TemplateField {
  field: string;
  text: string;
  html: boolean;
}

/** Every template string of a channel's content, with its field path for errors. */
function fieldsOf(channel: TemplateChannel, content: Record<string, unknown>): TemplateField[] {
  const out: TemplateField[] = [];
  const add = (field: string, text: unknown, html = false) => {
    if (typeof text === 'string') out.push({ field, text, html });
  };
  const walk = (path: string, value: unknown) => {
    if (typeof value === 'string') add(path, value);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(`${path}[${i}]`, v));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(`${path}.${k}`, v);
  };
  if (channel === 'sms') add('content.text', content.text);
  if (channel === 'email') {
    add('content.subject', content.subject);
    add('content.html', content.html, true);
    add('content.text', content.text);
  }
  if (channel === 'push_notification') {
    add('content.title', content.title);
    add('content.body', content.body);
    for (const [k, v] of Object.entries((content.data ?? {}) as Record<string, unknown>)) add(`content.data.${k}`, v);
  }
  if (channel === 'webhook') walk('content.json', content.json);
  return out;
}

const length = (text: string) => [...text].length;

/** Throws template_invalid or content_too_long for the first problem of a template; nothing else can fail later. */
export function validateTemplate(channel: TemplateChannel, content: Record<string, unknown>, defaults: Defaults): void {
  for (const key of Object.keys(defaults)) {
    if (!isKnownVariable(key.split('.'))) throw outreachErrors.templateInvalid(`defaults.${key}`, 1, 1, `unknown variable ${key}`);
  }
  for (const { field, text } of fieldsOf(channel, content)) parseField(field, text);
  if (channel === 'sms' && typeof content.text === 'string' && length(content.text) > LIMITS.smsText) {
    throw outreachErrors.contentTooLong('content.text', length(content.text), LIMITS.smsText);
  }
  if (channel === 'push_notification' && typeof content.title === 'string' && length(content.title) > LIMITS.pushTitle) {
    throw outreachErrors.contentTooLong('content.title', length(content.title), LIMITS.pushTitle);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!next || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const leaf = path[path.length - 1]!;
  if (node[leaf] === undefined || node[leaf] === null || node[leaf] === '') node[leaf] = value;
}

/** The Liquid scope of one render: the variables with the template's defaults filled in where missing. */
function scopeOf(variables: RenderVariables, defaults: Defaults): Record<string, unknown> {
  const scope = JSON.parse(JSON.stringify(variables)) as Record<string, unknown>;
  for (const [key, value] of Object.entries(defaults)) setPath(scope, key.split('.'), value);
  return scope;
}

// A run renders the same few template texts for every recipient: parse each once.
const parsedCache = new LRUCache<string, Template[]>({ max: 500 });

function parsedFor(field: string, text: string, html: boolean): Template[] {
  const key = `${html ? 'h' : 't'}\u0000${text}`;
  let parsed = parsedCache.get(key);
  if (!parsed) {
    parsed = (html ? htmlEngine : textEngine).parse(rewriteBrackets(field, text).source);
    parsedCache.set(key, parsed);
  }
  return parsed;
}

/** Renders a validated template's content for one recipient, in the channel's content shape. */
export function renderTemplate(channel: TemplateChannel, content: Record<string, unknown>, defaults: Defaults, variables: RenderVariables) {
  const scope = scopeOf(variables, defaults);
  const rendered = new Map<string, string>();
  for (const { field, text, html } of fieldsOf(channel, content)) {
    const liquid = html ? htmlEngine : textEngine;
    try {
      rendered.set(field, liquid.renderSync(parsedFor(field, text, html), scope) as string);
    } catch (err) {
      // Only the render and memory limits get here (a loop over a huge range): the one refusal
      // a saved template can still meet, answered as a template problem, not a server error.
      throw outreachErrors.templateInvalid(field, 1, 1, String((err as Error).message ?? err).replace(/, line:\d+, col:\d+$/, ''));
    }
  }
  const rebuild = (path: string, value: unknown): unknown => {
    if (typeof value === 'string') return rendered.get(path) ?? value;
    if (Array.isArray(value)) return value.map((v, i) => rebuild(`${path}[${i}]`, v));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rebuild(`${path}.${k}`, v)]));
    return value;
  };
  return rebuild('content', content) as Record<string, unknown>;
}
