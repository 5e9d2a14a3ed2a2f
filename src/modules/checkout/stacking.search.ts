/**
 * The search over combinations: each choice takes one of its options or none (an offer without a
 * group is a choice of one option; a stacking group, a choice of its offers). Up to
 * EXHAUSTIVE_LIMIT combinations every one is tried; beyond, a local search starts from every
 * choice taking its first option (the best alone) and changes one choice at a time while that
 * is better, a bounded number of passes. Both are deterministic: the same input, the same answer.
 */
export const EXHAUSTIVE_LIMIT = 256;
const MAX_PASSES = 4;

export interface Choice<O = unknown> {
  key: string;
  options: O[];
}

export function bestCombination<O, R>(choices: readonly Choice<O>[], evaluate: (chosen: O[]) => R, better: (a: R, b: R) => boolean): { result: R; chosen: O[] } {
  let count = 1;
  for (const c of choices) {
    count *= c.options.length + 1;
    if (count > EXHAUSTIVE_LIMIT) break;
  }
  return count <= EXHAUSTIVE_LIMIT ? exhaustive(choices, evaluate, better) : localSearch(choices, evaluate, better);
}

/** `pick[i]` = index of the option of choice i, or -1 for none. */
function chosenOf<O>(choices: readonly Choice<O>[], pick: readonly number[]): O[] {
  const out: O[] = [];
  choices.forEach((c, i) => {
    const k = pick[i] ?? -1;
    if (k >= 0) out.push(c.options[k] as O);
  });
  return out;
}

function exhaustive<O, R>(choices: readonly Choice<O>[], evaluate: (chosen: O[]) => R, better: (a: R, b: R) => boolean) {
  const pick = choices.map(() => -1);
  let bestChosen = chosenOf(choices, pick);
  let best = evaluate(bestChosen);
  for (;;) {
    // Next combination in mixed radix (-1 .. options-1 per choice).
    let i = 0;
    while (i < choices.length) {
      const max = (choices[i]?.options.length ?? 0) - 1;
      if ((pick[i] ?? -1) < max) {
        pick[i] = (pick[i] ?? -1) + 1;
        break;
      }
      pick[i] = -1;
      i++;
    }
    if (i === choices.length) break;
    const chosen = chosenOf(choices, pick);
    const r = evaluate(chosen);
    if (better(r, best)) {
      best = r;
      bestChosen = chosen;
    }
  }
  return { result: best, chosen: bestChosen };
}

function localSearch<O, R>(choices: readonly Choice<O>[], evaluate: (chosen: O[]) => R, better: (a: R, b: R) => boolean) {
  const pick = choices.map(() => 0);
  let best = evaluate(chosenOf(choices, pick));
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let changed = false;
    choices.forEach((c, i) => {
      const current = pick[i] ?? -1;
      for (let k = -1; k < c.options.length; k++) {
        if (k === current) continue;
        const trial = [...pick];
        trial[i] = k;
        const r = evaluate(chosenOf(choices, trial));
        if (better(r, best)) {
          best = r;
          pick[i] = k;
          changed = true;
        }
      }
    });
    if (!changed) break;
  }
  return { result: best, chosen: chosenOf(choices, pick) };
}
