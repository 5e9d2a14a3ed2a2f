import { invalidRequest } from './errors.js';

/**
 * An RFC 3339 string (already format-checked by the route schema) as a Date; null stays null.
 * Some valid strings are not instants, such as the leap second 23:59:60, so a Date that comes out
 * invalid is refused naming the field rather than reaching the database.
 */
export function parseInstant(field: string, value: string | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalidRequest(field, 'is not a representable instant');
  return date;
}
