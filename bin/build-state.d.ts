/** Types of build-state.js (plain JavaScript: bin/ runs before anything is compiled). */
export function exists(path: string): boolean;
export function distProblem(root: string): string | null;
