import { DomainError } from '../domain/errors.ts';
import { isUniqueViolation } from '../persistence/errors.ts';

/** The refusal for a live name already in use, whether the lookup or the unique index found it. */
export function nameTakenError(what: string, name: string, hint = 'choose another name'): DomainError {
  return new DomainError('name_taken', `${what} named "${name}" already exists; ${hint}`, { field: 'name' });
}

/**
 * Runs a write that checked its name is free. Two concurrent writes can both pass that lookup; the
 * unique index on live names (`index`) decides, and the loser gets the same answer as from the lookup.
 */
export async function withUniqueLiveName<T>(
  index: string,
  taken: () => DomainError,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error, index)) throw taken();
    throw error;
  }
}
