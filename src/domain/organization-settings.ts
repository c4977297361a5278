/**
 * An organization's API security settings as two parties shape them: its admins choose the settings,
 * the product (the platform operator) entitles the API module and may set ceilings ("limits") on what
 * the admins choose. Pure rules; callers read and write the rows.
 */

/** The settings a limit can bound, by their API field names. */
export interface LimitedSettings {
  allowed_credential_types: readonly string[];
  access_token_ttl_seconds: number;
  max_credentials_per_account: number;
  /** null: credentials may live forever. */
  max_credential_lifetime_seconds: number | null;
}

/** Ceilings on LimitedSettings; null: no ceiling. */
export interface SettingLimits {
  /** The credential types the admins may allow (a subset of these). */
  allowed_credential_types: readonly string[] | null;
  access_token_ttl_seconds: number | null;
  max_credentials_per_account: number | null;
  /** When set, credentials must have a lifetime of at most this. */
  max_credential_lifetime_seconds: number | null;
}

export const NO_LIMITS: SettingLimits = {
  allowed_credential_types: null,
  access_token_ttl_seconds: null,
  max_credentials_per_account: null,
  max_credential_lifetime_seconds: null,
};

export interface SettingBeyondLimit {
  field: keyof SettingLimits;
  /** What is wrong, naming the setting and its limit. */
  message: string;
  limit: number | readonly string[];
}

/** Every setting outside its limit, in field order; empty when the settings respect them all. */
export function settingsBeyondLimits(settings: LimitedSettings, limits: SettingLimits): SettingBeyondLimit[] {
  const found: SettingBeyondLimit[] = [];
  const types = limits.allowed_credential_types;
  if (types !== null) {
    const outside = settings.allowed_credential_types.filter((type) => !types.includes(type));
    if (outside.length > 0) {
      found.push({
        field: 'allowed_credential_types',
        message: `allowed_credential_types may name only ${types.join(', ')}; ${outside.join(', ')} is beyond that`,
        limit: types,
      });
    }
  }
  const ttl = limits.access_token_ttl_seconds;
  if (ttl !== null && settings.access_token_ttl_seconds > ttl) {
    found.push({
      field: 'access_token_ttl_seconds',
      message: `access_token_ttl_seconds may be at most ${ttl} (asked: ${settings.access_token_ttl_seconds})`,
      limit: ttl,
    });
  }
  const count = limits.max_credentials_per_account;
  if (count !== null && settings.max_credentials_per_account > count) {
    found.push({
      field: 'max_credentials_per_account',
      message: `max_credentials_per_account may be at most ${count} (asked: ${settings.max_credentials_per_account})`,
      limit: count,
    });
  }
  const lifetime = limits.max_credential_lifetime_seconds;
  const asked = settings.max_credential_lifetime_seconds;
  if (lifetime !== null && (asked === null || asked > lifetime)) {
    found.push({
      field: 'max_credential_lifetime_seconds',
      message: `max_credential_lifetime_seconds must be set, at most ${lifetime} (asked: ${asked ?? 'null, no limit'})`,
      limit: lifetime,
    });
  }
  return found;
}

/**
 * Whether the organization's product tokens may be used: active (not suspended or archived), entitled
 * by the product, and switched on by its admins. The revocation feed's organization entry says this.
 */
export function organizationApiOpen(organization: {
  status: string;
  apiEntitled: boolean;
  apiEnabled: boolean;
}): boolean {
  return organization.status === 'active' && organization.apiEntitled && organization.apiEnabled;
}
