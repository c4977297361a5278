import { describe, expect, it } from 'vitest';
import { DomainError, isDomainError } from '../../../src/domain/errors.ts';

describe('DomainError', () => {
  it('carries a code, a message and optional details', () => {
    const error = new DomainError('expiry_too_far', 'expires_at is too far', { max: 1 });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('DomainError');
    expect(error.code).toBe('expiry_too_far');
    expect(error.message).toBe('expires_at is too far');
    expect(error.details).toEqual({ max: 1 });
    expect(error.stack).toContain('DomainError');
  });

  it('has undefined details when none are given', () => {
    const error = new DomainError('x', 'y');
    expect(error.details).toBeUndefined();
  });

  it('is recognized by isDomainError', () => {
    expect(isDomainError(new DomainError('x', 'y'))).toBe(true);
    expect(isDomainError(new Error('y'))).toBe(false);
    expect(isDomainError({ code: 'x', message: 'y' })).toBe(false);
  });
});
