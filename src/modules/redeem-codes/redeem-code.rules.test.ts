import { describe, expect, it } from 'vitest';
import { AppError } from '../../platform/errors.js';
import {
  checkCharacter,
  checkGuessability,
  displayCode,
  entropyBits,
  generateCodes,
  hasValidCheck,
  lookupForms,
  matchShape,
  resolveRule,
} from './redeem-code.rules.js';

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('code rules', () => {
  it('builds each alphabet, dropping look-alikes by default where letters are involved', () => {
    expect(resolveRule({ code_type: 'RANDOM_NUM', length: 8 }).alphabet).toBe('0123456789');
    const alnum = resolveRule({ code_type: 'ALPHANUM', length: 8 }).alphabet;
    expect(alnum).toHaveLength(31);
    for (const c of '0O1IL') expect(alnum).not.toContain(c);
    expect(alnum).toMatch(/^[2-9A-Z]+$/);
    const mixed = resolveRule({ code_type: 'ALPHANUM_MIXED', length: 8 }).alphabet;
    expect(mixed).toHaveLength(62 - 7);
    for (const c of '0O1ILlo') expect(mixed).not.toContain(c);
    expect(resolveRule({ code_type: 'ALPHANUM', length: 8, exclude_chars: '' }).alphabet).toHaveLength(36);
    // Case-insensitive alphabets exclude either case.
    expect(resolveRule({ code_type: 'ALPHANUM', length: 8, exclude_chars: 'abc' }).alphabet).not.toMatch(/[ABC]/);
    expect(resolveRule({ code_type: 'UUID' })).toMatchObject({ length: 32, alphabet: '0123456789ABCDEF' });
  });

  it('refuses bad options naming the field', () => {
    expect(refusal(() => resolveRule({ code_type: 'ALPHANUM', length: 3 })).details).toMatchObject({ field: 'length' });
    expect(refusal(() => resolveRule({ code_type: 'ALPHANUM', length: 65 })).details).toMatchObject({ field: 'length' });
    expect(refusal(() => resolveRule({ code_type: 'RANDOM_NUM', length: 8, exclude_chars: '012345678' })).details).toMatchObject({ field: 'exclude_chars' });
    expect(refusal(() => resolveRule({ code_type: 'ALPHANUM', length: 8, prefix: 'A-B' })).details).toMatchObject({ field: 'prefix' });
    expect(refusal(() => resolveRule({ code_type: 'UUID', check_char: true })).details).toMatchObject({ field: 'check_char' });
    expect(refusal(() => resolveRule({ code_type: 'UUID', length: 12 })).details).toMatchObject({ field: 'length' });
  });

  it('generates distinct codes of the rule, every character equally likely', () => {
    const rule = resolveRule({ code_type: 'ALPHANUM', length: 10, prefix: 'vip' });
    expect(rule.prefix).toBe('VIP');
    const codes = generateCodes(rule, 20_000);
    expect(new Set(codes).size).toBe(20_000);
    const counts = new Map<string, number>();
    for (const code of codes) {
      expect(code).toMatch(/^VIP[2-9A-HJKMNP-Z]{10}$/);
      for (const c of code.slice(3)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    // 200,000 characters over 31 symbols: ~6,452 each; a modulo bias would skew the first ones by ~10%.
    const expected = 200_000 / 31;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.06);
    expect(counts.size).toBe(31);
  });

  it('makes numeric, mixed-case and UUID codes', () => {
    expect(generateCodes(resolveRule({ code_type: 'RANDOM_NUM', length: 6 }), 50).every((c) => /^\d{6}$/.test(c))).toBe(true);
    const mixed = generateCodes(resolveRule({ code_type: 'ALPHANUM_MIXED', length: 16 }), 50);
    expect(mixed.some((c) => /[a-z]/.test(c)) && mixed.some((c) => /[A-Z]/.test(c))).toBe(true);
    const [uuid] = generateCodes(resolveRule({ code_type: 'UUID' }), 1);
    expect(uuid).toMatch(/^[0-9A-F]{32}$/);
    expect(displayCode(uuid!, { code_type: 'UUID', prefix: '', group_size: null })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  function typosAndSwaps(rule: ReturnType<typeof resolveRule>) {
    const [code] = generateCodes(rule, 1);
    expect(hasValidCheck(code!, rule.alphabet)).toBe(true);
    let typos = 0;
    for (let i = 0; i < code!.length; i++) {
      for (const c of rule.alphabet) {
        if (c === code![i]) continue;
        const typo = code!.slice(0, i) + c + code!.slice(i + 1);
        if (hasValidCheck(typo, rule.alphabet)) typos++;
      }
    }
    const missedPairs: string[] = [];
    for (let i = 0; i + 1 < code!.length; i++) {
      if (code![i] === code![i + 1]) continue;
      if (hasValidCheck(code!.slice(0, i) + code![i + 1] + code![i] + code!.slice(i + 2), rule.alphabet)) {
        missedPairs.push([code![i], code![i + 1]].sort().join(''));
      }
    }
    return { typos, missed: missedPairs.length, missedPairs };
  }

  it('the check character catches every wrong character, and on odd alphabets every swap of neighbours', () => {
    for (let round = 0; round < 50; round++) {
      // 31 symbols: Damm, nothing slips through.
      expect(typosAndSwaps(resolveRule({ code_type: 'ALPHANUM', length: 10, check_char: true }))).toMatchObject({ typos: 0, missed: 0 });
      expect(typosAndSwaps(resolveRule({ code_type: 'ALPHANUM_MIXED', length: 10, check_char: true }))).toMatchObject({ typos: 0, missed: 0 });
      // 10 digits: Luhn, every typo; a swap only of the pair 0<->9 can slip.
      const digits = typosAndSwaps(resolveRule({ code_type: 'RANDOM_NUM', length: 10, check_char: true }));
      expect(digits.typos).toBe(0);
      expect(digits.missedPairs.every((pair) => pair === '09')).toBe(true);
    }
    expect(checkCharacter('7992739871', '0123456789')).toBe('3'); // the classic Luhn example
    expect(resolveRule({ code_type: 'ALPHANUM', length: 8, check_char: true })).toMatchObject({ check_char: true });
  });

  it('matches typed input with or without dashes, in any case where the alphabet allows', () => {
    const rule = resolveRule({ code_type: 'ALPHANUM', length: 8, prefix: 'GO', group_size: 4, check_char: true });
    const [code] = generateCodes(rule, 1);
    const shown = displayCode(code!, rule);
    expect(shown).toMatch(/^GO-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]$/);
    expect(matchShape(shown, rule)).toBe('match');
    expect(matchShape(shown.toLowerCase(), rule)).toBe('match');
    expect(matchShape(` ${code!.toLowerCase()} `, rule)).toBe('match');
    const wrongLast = code!.slice(0, -1) + rule.alphabet[(rule.alphabet.indexOf(code!.at(-1)!) + 1) % rule.alphabet.length];
    expect(matchShape(wrongLast, rule)).toBe('bad_check');
    expect(matchShape(`XX${code!.slice(2)}`, rule)).toBe('no');
    expect(matchShape(code!.slice(0, -2), rule)).toBe('no');
    // Mixed-case codes are case-sensitive: an upper-cased one is another code.
    const mixed = resolveRule({ code_type: 'ALPHANUM_MIXED', length: 8, check_char: true });
    const m = generateCodes(mixed, 200).find((c) => /[a-z]/.test(c.slice(0, -1)))!;
    expect(matchShape(m, mixed)).toBe('match');
    // Upper-cased, it is another code: never looked up as the original, and nearly always refused by
    // the check character (1 in 55 passes it by chance, as any random string of that shape would).
    expect(lookupForms(m.toUpperCase())).not.toContain(m);
    const upper = generateCodes(mixed, 50)
      .filter((c) => c.toUpperCase() !== c)
      .map((c) => matchShape(c.toUpperCase(), mixed));
    expect(upper.filter((r) => r === 'bad_check').length).toBeGreaterThan(upper.length / 2);
    expect(lookupForms('ab-cd')).toEqual(['abcd', 'ABCD']);
    expect(lookupForms('AB CD')).toEqual(['ABCD']);
  });

  it('refuses guessable batches with the entropy and the length that would do', () => {
    const rule = resolveRule({ code_type: 'RANDOM_NUM', length: 8 });
    const err = refusal(() => checkGuessability(rule, 1000, 1e-6));
    expect(err.code).toBe('code_space_too_small');
    expect(err.details).toMatchObject({ field: 'length', entropy_bits: 26.58, needed_length: 9, count: 1000 });
    // Exactly at the limit passes: 1000 codes of 9 digits and 100 codes of 8 digits are both 1e-6.
    checkGuessability(resolveRule({ code_type: 'RANDOM_NUM', length: 9 }), 1000, 1e-6);
    checkGuessability(rule, 100, 1e-6);
    expect(() => checkGuessability(rule, 101, 1e-6)).toThrow(AppError);
    // A looser configured limit lets more through.
    checkGuessability(rule, 1000, 1e-5);
    expect(entropyBits(resolveRule({ code_type: 'UUID' }))).toBe(122);
    checkGuessability(resolveRule({ code_type: 'UUID' }), 10_000_000, 1e-6);
  });
});
