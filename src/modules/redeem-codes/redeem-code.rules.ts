/**
 * The pure rules of redeem codes: alphabets, generation, the check character, the display form,
 * how typed input is normalised and matched, and the guessability limit. No I/O here, so the
 * batch writer, the redemption path and the unit tests share exactly the same rules.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalidRequest } from '../../platform/errors.js';
import { redeemCodeErrors } from './redeem-code.errors.js';

export const CODE_TYPES = ['RANDOM_NUM', 'ALPHANUM', 'ALPHANUM_MIXED', 'UUID'] as const;
export type CodeType = (typeof CODE_TYPES)[number];

export const MIN_LENGTH = 4;
export const MAX_LENGTH = 64;
const UUID_LENGTH = 32;

const BASE_ALPHABETS: Record<Exclude<CodeType, 'UUID'>, string> = {
  RANDOM_NUM: '0123456789',
  ALPHANUM: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ALPHANUM_MIXED: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
};
const HEX = '0123456789ABCDEF';

/**
 * Characters people confuse when reading a code aloud or off a card. Digits alone are not
 * confusable (there are no letters to mistake them for), so numeric codes keep all ten.
 */
const DEFAULT_EXCLUDE: Record<CodeType, string> = {
  RANDOM_NUM: '',
  ALPHANUM: '0O1IL',
  ALPHANUM_MIXED: '0O1ILlo',
  UUID: '',
};

/** Everything needed to generate, display and recognise the codes of one batch. */
export interface CodeRule {
  code_type: CodeType;
  /** Random characters, without prefix and check character. */
  length: number;
  /** Stored canonical: upper case unless the type is case-sensitive. */
  prefix: string;
  /** The characters a random position may take, in check-character order. */
  alphabet: string;
  check_char: boolean;
  group_size: number | null;
}

export interface RuleInput {
  code_type: CodeType;
  length?: number | undefined;
  prefix?: string | undefined;
  exclude_chars?: string | undefined;
  check_char?: boolean | undefined;
  group_size?: number | undefined;
}

export const isCaseSensitive = (type: CodeType) => type === 'ALPHANUM_MIXED';

/** Validates a batch's code options and resolves them into a rule (400 naming the field). */
export function resolveRule(input: RuleInput): CodeRule {
  const type = input.code_type;
  const prefix = input.prefix ?? '';
  if (!/^[A-Za-z0-9]{0,16}$/.test(prefix)) throw invalidRequest('prefix', 'must be 0-16 letters or digits');
  if (type === 'UUID') {
    if (input.length !== undefined && input.length !== UUID_LENGTH) throw invalidRequest('length', `UUID codes always have ${UUID_LENGTH} hex digits`);
    if (input.check_char) throw invalidRequest('check_char', 'UUID codes carry no check character');
    if (input.group_size !== undefined) throw invalidRequest('group_size', 'UUID codes are always shown 8-4-4-4-12');
    if (input.exclude_chars) throw invalidRequest('exclude_chars', 'UUID codes use all hex digits');
    return { code_type: type, length: UUID_LENGTH, prefix: prefix.toUpperCase(), alphabet: HEX, check_char: false, group_size: null };
  }
  const length = input.length ?? 12;
  if (!Number.isInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH) {
    throw invalidRequest('length', `must be an integer from ${MIN_LENGTH} to ${MAX_LENGTH}`);
  }
  const caseSensitive = isCaseSensitive(type);
  const exclude = input.exclude_chars ?? DEFAULT_EXCLUDE[type];
  const excluded = new Set(caseSensitive ? exclude : exclude.toUpperCase());
  const alphabet = [...BASE_ALPHABETS[type]].filter((c) => !excluded.has(c)).join('');
  if (alphabet.length < 2) throw invalidRequest('exclude_chars', 'leaves fewer than 2 characters to build codes from');
  const group = input.group_size ?? null;
  if (group !== null && (!Number.isInteger(group) || group < 2 || group > 16)) throw invalidRequest('group_size', 'must be an integer from 2 to 16');
  return {
    code_type: type,
    length,
    prefix: caseSensitive ? prefix : prefix.toUpperCase(),
    alphabet,
    check_char: input.check_char ?? false,
    group_size: group,
  };
}

/** log2 of the number of distinct codes a rule can make. */
export function entropyBits(rule: CodeRule): number {
  return rule.code_type === 'UUID' ? 122 : rule.length * Math.log2(rule.alphabet.length);
}

/**
 * Refuses a batch whose codes could be guessed: with `count` live codes in a space of K, one
 * random guess hits with probability count / K. Above `maxDensity` (1e-6 by default: a million
 * guesses per hit) the answer is 400 code_space_too_small with the length that would do.
 */
export function checkGuessability(rule: CodeRule, count: number, maxDensity: number): void {
  const bits = entropyBits(rule);
  const log2Density = Math.log2(count) - bits;
  // The epsilon keeps a batch exactly at the limit (100 codes of 8 digits at 1e-6) from failing on rounding.
  if (log2Density <= Math.log2(maxDensity) + 1e-9) return;
  const perChar = Math.log2(rule.alphabet.length);
  const needed = Math.ceil((Math.log2(count) - Math.log2(maxDensity)) / perChar - 1e-9);
  throw redeemCodeErrors.codeSpaceTooSmall({
    count,
    length: rule.length,
    alphabetSize: rule.alphabet.length,
    oneIn: Math.round(2 ** -log2Density),
    needed,
    entropyBits: Math.round(bits * 100) / 100,
    guessProbability: 2 ** log2Density,
    maxGuessProbability: maxDensity,
  });
}

/**
 * The check character of `body` over `alphabet` (n symbols), chosen so that a wrong character is
 * always caught. For odd n it is Damm's method over the quasigroup x*y = (2x + y) mod n, which is
 * totally anti-symmetric, so it also catches every swap of two different neighbours. For even n
 * that quasigroup does not exist (2 has no inverse mod n), so it is Luhn mod N, which catches
 * every single wrong character and most swaps. Default alphabets: 31 and 55 symbols (Damm), 10
 * digits (Luhn).
 */
export function checkCharacter(body: string, alphabet: string): string {
  const n = alphabet.length;
  if (n % 2 === 1) {
    let interim = 0;
    for (const c of body) interim = (2 * interim + alphabet.indexOf(c)) % n;
    return alphabet[(n - ((2 * interim) % n)) % n]!;
  }
  let factor = 2;
  let sum = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    let addend = factor * alphabet.indexOf(body[i]!);
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / n) + (addend % n);
    sum += addend;
  }
  return alphabet[(n - (sum % n)) % n]!;
}

/** True when the last character of `bodyWithCheck` is the check character of the rest. */
export function hasValidCheck(bodyWithCheck: string, alphabet: string): boolean {
  if (bodyWithCheck.length < 2) return false;
  return checkCharacter(bodyWithCheck.slice(0, -1), alphabet) === bodyWithCheck.at(-1);
}

/**
 * Makes `count` distinct codes (canonical form) of a rule from the CSPRNG. Each character is a
 * random byte below the largest multiple of the alphabet size (rejection sampling), so every
 * character is exactly equally likely: `byte % n` alone would favour the first characters.
 */
export function generateCodes(rule: CodeRule, count: number): string[] {
  const out = new Set<string>();
  if (rule.code_type === 'UUID') {
    while (out.size < count) out.add(rule.prefix + randomUUID().replaceAll('-', '').toUpperCase());
    return [...out];
  }
  const { alphabet, length, prefix } = rule;
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  let pool = randomBytes(Math.min(8_388_608, Math.ceil(count * length * (256 / limit) * 1.05) + 64));
  let at = 0;
  while (out.size < count) {
    let body = '';
    while (body.length < length) {
      if (at >= pool.length) {
        pool = randomBytes(65_536);
        at = 0;
      }
      const byte = pool[at++]!;
      if (byte < limit) body += alphabet[byte % n];
    }
    out.add(prefix + body + (rule.check_char ? checkCharacter(body, alphabet) : ''));
  }
  return [...out];
}

/** How a stored code is shown and printed: prefix, then the body in groups (XXXX-XXXX). */
export function displayCode(code: string, rule: Pick<CodeRule, 'code_type' | 'prefix' | 'group_size'>): string {
  const body = code.slice(rule.prefix.length);
  if (rule.code_type === 'UUID') {
    const h = body.toLowerCase();
    return `${rule.prefix}${rule.prefix ? '-' : ''}${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (!rule.group_size) return code;
  const groups: string[] = [];
  for (let i = 0; i < body.length; i += rule.group_size) groups.push(body.slice(i, i + rule.group_size));
  return `${rule.prefix}${rule.prefix ? '-' : ''}${groups.join('-')}`;
}

/** Typed input without the grouping dashes and spaces people copy along; case untouched. */
export function stripInput(input: string): string {
  return input.replace(/[\s-]+/g, '');
}

/** The forms a typed code may be stored under: as typed (case-sensitive codes) and upper case. */
export function lookupForms(input: string): string[] {
  const raw = stripInput(input);
  const upper = raw.toUpperCase();
  return raw === upper ? [raw] : [raw, upper];
}

/** The stored form of typed input under a rule: upper case unless the rule is case-sensitive. */
export function canonicalFor(input: string, rule: Pick<CodeRule, 'code_type'>): string {
  const raw = stripInput(input);
  return isCaseSensitive(rule.code_type) ? raw : raw.toUpperCase();
}

export type ShapeMatch = 'match' | 'bad_check' | 'no';

/** Whether typed input can be a code of `rule`, checking its check character if it has one. */
export function matchShape(input: string, rule: CodeRule): ShapeMatch {
  const code = canonicalFor(input, rule);
  if (!code.startsWith(rule.prefix)) return 'no';
  const body = code.slice(rule.prefix.length);
  if (body.length !== rule.length + (rule.check_char ? 1 : 0)) return 'no';
  for (const c of body) if (!rule.alphabet.includes(c)) return 'no';
  if (rule.check_char && !hasValidCheck(body, rule.alphabet)) return 'bad_check';
  return 'match';
}
