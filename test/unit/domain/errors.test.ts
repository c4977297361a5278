import { describe, expect, it } from 'vitest';
import { AuthenticationError, DomainError, isDomainError } from '../../../src/domain/errors.ts';

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
    const error = new DomainError('name_taken', 'y');
    expect(error.details).toBeUndefined();
  });

  it('is recognized by isDomainError', () => {
    expect(isDomainError(new DomainError('name_taken', 'y'))).toBe(true);
    expect(isDomainError(new Error('y'))).toBe(false);
    expect(isDomainError({ code: 'x', message: 'y' })).toBe(false);
  });
});

describe('AuthenticationError', () => {
  it('is not a domain error: a refused caller is not a broken rule', () => {
    const error = new AuthenticationError('the access token has expired');
    expect(isDomainError(error)).toBe(false);
    expect(error.name).toBe('AuthenticationError');
    expect(error.error).toBe('invalid_token');
    expect(error.dpop).toBe(false);
  });

  it('carries the challenge error and whether DPoP is concerned', () => {
    const error = new AuthenticationError('no proof', { error: 'invalid_dpop_proof', dpop: true });
    expect(error.error).toBe('invalid_dpop_proof');
    expect(error.dpop).toBe(true);
  });
});
