/**
 * Anonymisation of recorded traffic before anything else sees it: shadows, mocks, reports and
 * the cache only ever receive what comes out of here.
 *
 * Two kinds of rule:
 * - name rules: a header, cookie, query parameter, form field, multipart part, JSON field (at
 *   any depth) or `name=value` / `"name": "value"` / `<name>value</name>` pair in free text
 *   whose name says it holds a credential or personal data has its whole value replaced;
 * - detectors: values that look like an email, phone number, IP address, card number, JWT,
 *   cloud or SaaS key, private key… are replaced wherever they occur (header values, path
 *   segments, query values, bodies of any content type, recorded responses).
 * User rules (a name, a regular expression, where it applies) add to both.
 *
 * Replacements are keyed pseudonyms (HMAC-SHA256 of the value alone, never of where it is):
 * the same input gives the same output anywhere in the recording (a session cookie set in a
 * response matches the cookie sent later; a mock's recorded exchange matches the replayed
 * request), and the output keeps the format: length, character classes and separators, an
 * email's TLD, a card's Luhn check, a valid IP address, the parts of a JWT, an auth scheme.
 * The output never equals the input. The key is never kept: only a key derived from it.
 */
import { createHmac } from "node:crypto";
import { isIPv6 } from "node:net";
import type { RecordedResponse, ReplayRequest } from "../core/ports.js";

/** Where a user rule applies: request headers, query values, path segments, request body, the recorded response. */
export const RULE_LOCATIONS = ["headers", "query", "path", "body", "response"] as const;
export type RuleLocation = (typeof RULE_LOCATIONS)[number];

/** The value detectors, in the order they win when two matches overlap. */
export const DETECTORS = [
  "private-key",
  "url-credentials",
  "jwt",
  "aws-key",
  "aws-secret",
  "github-token",
  "slack-token",
  "stripe-key",
  "google-api-key",
  "bearer",
  "email",
  "iban",
  "card",
  "ssn",
  "ipv6",
  "ipv4",
  "phone",
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** A user-defined value rule; each is counted under `rule:<name>`. A group named `value` limits the replacement to it. */
export interface AnonymiseRule {
  name: string;
  pattern: RegExp;
  /** where it applies */
  in: RuleLocation[];
}

export interface AnonymiseOptions {
  /** secret; never logged, never stored, never in an error message */
  key: string;
  /** extra header names whose values are replaced (added to the defaults) */
  headers?: string[];
  /** extra JSON field / query / form / cookie names whose values are replaced (added to the defaults) */
  fields?: string[];
  /** names that must not be touched (header, cookie, field or parameter names; whole subtree for a JSON field) */
  keep?: string[];
  /** user rules, each counted under its own name */
  rules?: AnonymiseRule[];
  /** default: all */
  detectors?: DetectorName[];
}

export class AnonymiseError extends Error {
  override name = "AnonymiseError";
}

/**
 * Names whose values are replaced, compared case-insensitively and ignoring `-`, `_`, `.` and
 * spaces (so `X-Api-Key`, `api_key` and `apiKey` are the same name).
 */
export const DEFAULT_SENSITIVE_NAMES: readonly string[] = [
  // credentials in headers
  "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey", "x-auth-token",
  "x-access-token", "x-csrf-token", "x-xsrf-token", "csrf", "csrf-token", "xsrf-token", "x-amz-security-token",
  "x-goog-api-key", "x-session-token", "x-refresh-token", "x-signature", "signature", "x-hub-signature",
  "x-hub-signature-256", "stripe-signature", "x-slack-signature", "x-forwarded-user", "x-forwarded-email",
  // tokens and secrets
  "token", "access_token", "refresh_token", "id_token", "auth_token", "session_token", "bearer_token", "oauth_token",
  "oauth_token_secret", "client_secret", "client_assertion", "assertion", "code_verifier", "password", "passwd", "pwd",
  "pass", "passphrase", "passcode", "secret", "private_key", "secret_key", "access_key", "access_key_id",
  "secret_access_key", "signing_key", "encryption_key", "master_key", "credentials", "credential", "auth", "otp",
  "totp", "mfa_code", "pin", "cvv", "cvc", "cvv2", "security_code", "security_answer",
  // sessions
  "session", "session_id", "sid", "jsessionid", "phpsessid", "asp.net_sessionid", "connect.sid",
  // personal data
  "email", "email_address", "e_mail", "mail", "phone", "phone_number", "mobile", "mobile_number", "telephone", "tel",
  "fax", "msisdn", "ssn", "social_security_number", "sin", "nino", "national_id", "national_insurance_number", "tax_id",
  "tin", "passport", "passport_number", "drivers_license", "driver_license", "driving_licence", "license_number", "dob",
  "date_of_birth", "birth_date", "birthdate", "birthday", "first_name", "last_name", "full_name", "given_name",
  "family_name", "middle_name", "surname", "maiden_name", "username", "user_name", "cardholder", "cardholder_name",
  "address", "street", "street_address", "address_line1", "address_line2", "postcode", "postal_code", "zip", "zip_code",
  // financial
  "credit_card", "card_number", "cc_number", "pan", "iban", "account_number", "routing_number", "sort_code", "bank_account",
];
/** A name containing one of these (after normalising) is sensitive. */
const CONTAINS_TERMS = ["password", "passwd", "passphrase", "secret", "apikey", "privatekey", "accesskey", "secretkey", "signingkey", "accesstoken", "refreshtoken", "authtoken", "sessiontoken", "idtoken", "sessionid", "creditcard", "cardnumber"];
/** A name ending with one of these (after normalising) is sensitive: `githubToken`, `billing_email`, `home-phone`. */
const SUFFIX_TERMS = ["token", "email", "emailaddress", "phone", "phonenumber", "ssn"];
/**
 * Names left alone: ones the rules above would catch that are not secrets (pagination cursors,
 * the OAuth token type), and version fields, whose "1.2.3.4" is not an IP address.
 */
export const DEFAULT_KEEP_NAMES: readonly string[] = [
  "token_type", "page_token", "next_page_token", "next_token", "continuation_token", "sync_token", "pagination_token",
  "version", "ver", "v", "app_version", "api_version", "client_version", "sdk_version", "os_version", "schema_version",
];
/** JWT claims kept as they are; every other string claim is replaced. */
const CLAIM_KEEP = new Set(["iss", "aud", "exp", "iat", "nbf", "typ", "alg", "kid", "scope", "scp", "roles", "role", "azp", "token_use", "auth_time", "acr", "amr", "ver", "client_id", "cid", "tid"]);
/** Parameters of Digest / OAuth / AWS4 authorization values that say how, not who. */
const PARAM_KEEP = new Set(["realm", "algorithm", "qop", "nc", "uri", "signedheaders", "oauth_signature_method", "oauth_version", "oauth_timestamp", "charset", "stale"]);
const PARAM_SCHEMES = new Set(["digest", "oauth", "aws4-hmac-sha256", "hoba", "mutual", "sharedkey"]);

const normName = (name: string): string => name.toLowerCase().replace(/[-_.\s]/g, "");

type Where = RuleLocation | "any" | "none";

/** Which sensitive-name rule a name falls under. */
class Names {
  readonly #exact = new Map<string, string>();
  readonly #userHeaders = new Set<string>();
  readonly #keep = new Set<string>();
  readonly #memo = new Map<string, string | null | false>();

  constructor(fields: readonly string[], headers: readonly string[], keep: readonly string[]) {
    for (const name of DEFAULT_SENSITIVE_NAMES) if (!this.#exact.has(normName(name))) this.#exact.set(normName(name), name);
    for (const name of fields) this.#exact.set(normName(name), name);
    for (const name of headers) this.#userHeaders.add(name.toLowerCase());
    for (const name of [...DEFAULT_KEEP_NAMES, ...keep]) this.#keep.add(normName(name));
  }

  kept(name: string): boolean {
    return this.#lookup(name) === false;
  }

  /** the label a field name is counted under, or null when it is not sensitive (or kept) */
  field(name: string): string | null {
    return this.#lookup(name) || null;
  }

  /** false: kept; null: not sensitive; else the label */
  #lookup(name: string): string | null | false {
    let hit = this.#memo.get(name);
    if (hit !== undefined) return hit;
    const n = normName(name);
    hit = this.#keep.has(n) ? false : (this.#exact.get(n) ?? CONTAINS_TERMS.find((t) => n.includes(t)) ?? SUFFIX_TERMS.find((t) => n.endsWith(t)) ?? null);
    if (this.#memo.size > 10_000) this.#memo.clear();
    this.#memo.set(name, hit);
    return hit;
  }

  header(name: string): boolean {
    return this.#userHeaders.has(name) || this.field(name) !== null;
  }
}

// ---- cheap facts about a string, so most detectors are skipped without running their regex ----

const F_AT = 1, F_DOT = 2, F_COLON = 4, F_EQ = 8, F_QUOTE = 16, F_LT = 32, F_DASH = 64, F_UPPER = 128, F_PCT = 256;
interface Facts {
  digits: number;
  flags: number;
}
function factsOf(s: string): Facts {
  let digits = 0;
  let flags = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) flags |= F_UPPER;
    else if (c === 64) flags |= F_AT;
    else if (c === 46) flags |= F_DOT;
    else if (c === 58) flags |= F_COLON;
    else if (c === 61) flags |= F_EQ;
    else if (c === 34) flags |= F_QUOTE;
    else if (c === 60) flags |= F_LT;
    else if (c === 45) flags |= F_DASH;
    else if (c === 37) flags |= F_PCT;
  }
  return { digits, flags };
}

// ---- validators ----

/** 13–19 digits, a card network's first digits, the Luhn check; separators all spaces or all dashes, groups of 3+. */
function isCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19 || !/^\d+$/.test(digits)) return false;
  if (!/^(?:2[2-7]|3[04-9]|4|5[0-8]|6)/.test(digits)) return false;
  if (text.includes(" ") && text.includes("-")) return false;
  if (digits.length !== text.length && text.split(/[ -]/).some((g) => g.length < 3)) return false;
  return luhnValid(digits);
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function luhnCheckDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(body + d)) return String(d);
  return "0";
}

function mod97(text: string): number {
  let r = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) r = (r * 100 + (c - 55)) % 97;
    else r = (r * 10 + (c - 48)) % 97;
  }
  return r;
}

function isIban(text: string): boolean {
  const compact = text.replace(/ /g, "");
  return compact.length >= 15 && compact.length <= 34 && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact) && mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

/** Addresses that identify no one: unspecified, loopback, broadcast, networks ending .0.0.0 (Chrome's reduced user agent "Chrome/120.0.0.0"). */
function reservedIPv4(text: string): boolean {
  return text.startsWith("127.") || text.endsWith(".0.0.0") || text === "255.255.255.255";
}

function phoneDigitsOk(text: string): boolean {
  const n = text.replace(/\D/g, "").length;
  if (text.startsWith("+")) return n >= 8 && n <= 15;
  if (text.startsWith("0")) return n >= 9 && n <= 12;
  return n >= 9 && n <= 12;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})((?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)$/;
const SCHEME = /^(Bearer|Basic|Token|Digest|Bot|ApiKey|Api-Key|Key|Negotiate|NTLM|OAuth|AWS4-HMAC-SHA256|HOBA|Mutual|SharedKey|SharedAccessSignature|GoogleLogin|SSWS|JWT|DPoP)(\s+)/i;

// ---- the scan: spans found by detectors, name-pair rules and user rules, then replaced ----

interface Span {
  start: number;
  end: number;
  /** lower wins an overlap */
  prio: number;
  /** counted under this label; null: not counted */
  label: string | null;
  make: (text: string) => string;
}

interface DetectorDef {
  name: DetectorName;
  gate: (s: string, f: Facts) => boolean;
  rx: RegExp;
  accept?: (text: string) => boolean;
  /** replace only this (last) group of the match: the context around a secret stays as it is */
  group?: number;
  pseudo: (e: Engine, text: string, m: RegExpExecArray) => string;
}

const has = (f: Facts, flag: number) => (f.flags & flag) !== 0;

const DETECTOR_DEFS: DetectorDef[] = [
  {
    name: "private-key",
    gate: (s, f) => has(f, F_DASH) && s.includes("-----BEGIN"),
    rx: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    pseudo: (e, t) => e.pem(t),
  },
  {
    name: "url-credentials",
    gate: (s, f) => has(f, F_AT) && s.includes("://"),
    rx: /\b[A-Za-z][A-Za-z0-9+.-]{1,20}:\/\/[^\s/:@?#"'<>\\]{1,128}:[^\s/@?#"'<>\\]{1,256}@[^\s/:?#"'<>\\]*/g,
    pseudo: (e, t) => {
      const from = t.indexOf("://") + 3;
      const at = t.lastIndexOf("@");
      const userinfo = t.slice(from, at);
      const colon = userinfo.indexOf(":");
      return t.slice(0, from) + e.pseudoEncoded(userinfo.slice(0, colon), false) + ":" + e.pseudoEncoded(userinfo.slice(colon + 1), false) + t.slice(at);
    },
  },
  {
    name: "jwt",
    gate: (s) => s.includes("eyJ"),
    rx: /(?<![\w-])eyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*(?:\.[\w-]+\.[\w-]+)?/g,
    pseudo: (e, t) => e.jwt(t),
  },
  {
    name: "aws-key",
    gate: (_s, f) => has(f, F_UPPER),
    rx: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    pseudo: (e, t) => t.slice(0, 4) + e.shape(t.slice(4)),
  },
  {
    name: "aws-secret",
    gate: (s) => s.length >= 44 && (s.includes("aws") || s.includes("AWS") || s.includes("Aws")),
    rx: /(aws[\w .-]{0,20}?(?:secret|private)[\w .-]{0,20}?["']?\s*[:=]\s*["']?)([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    group: 2,
    pseudo: (e, t) => e.shape(t),
  },
  {
    name: "github-token",
    gate: (s) => s.includes("gh"),
    rx: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g,
    pseudo: (e, t) => {
      const n = t.startsWith("github_pat_") ? 11 : 4;
      return t.slice(0, n) + e.shape(t.slice(n));
    },
  },
  {
    name: "slack-token",
    gate: (s) => s.includes("xox") || s.includes("xapp-"),
    rx: /(?<![\w-])(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{10,250}(?![\w-])/g,
    pseudo: (e, t) => {
      const n = t.indexOf("-") + 1;
      return t.slice(0, n) + e.shape(t.slice(n));
    },
  },
  {
    name: "stripe-key",
    gate: (s) => s.includes("_live_") || s.includes("_test_") || s.includes("whsec_"),
    rx: /(?<!\w)(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9+/=]{20,255})(?!\w)/g,
    pseudo: (e, t) => {
      const n = t.startsWith("whsec_") ? 6 : 8;
      return t.slice(0, n) + e.shape(t.slice(n));
    },
  },
  {
    name: "google-api-key",
    gate: (s) => s.includes("AIza"),
    rx: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g,
    pseudo: (e, t) => "AIza" + e.shape(t.slice(4)),
  },
  {
    name: "bearer",
    gate: (s) => s.includes("Bearer"),
    rx: /\bBearer(\s+)([A-Za-z0-9._~+/-]{8,}=*)/g,
    accept: (t) => {
      const token = t.replace(/^Bearer\s+/, "");
      return token.length >= 20 || /\d/.test(token);
    },
    group: 2,
    pseudo: (e, t) => e.pseudoValue(t),
  },
  {
    name: "email",
    gate: (s, f) => has(f, F_AT) || (has(f, F_PCT) && s.includes("%40")),
    rx: /(?<![\w.+-])[A-Za-z0-9][\w.%+-]{0,63}(?:@|%40)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])/g,
    pseudo: (e, t) => e.email(t),
  },
  {
    name: "iban",
    gate: (_s, f) => has(f, F_UPPER) && f.digits >= 6,
    rx: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/g,
    accept: isIban,
    pseudo: (e, t) => e.iban(t),
  },
  {
    name: "card",
    gate: (_s, f) => f.digits >= 13,
    rx: /(?<![\w.+-])\d(?:[ -]?\d){12,18}(?!\w|[.-]\d)/g,
    accept: isCardNumber,
    pseudo: (e, t) => e.card(t),
  },
  {
    name: "ssn",
    gate: (_s, f) => f.digits >= 9 && has(f, F_DASH),
    rx: /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g,
    pseudo: (e, t) => e.ssn(t),
  },
  {
    name: "ipv6",
    gate: (_s, f) => has(f, F_COLON),
    rx: /(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)/g,
    accept: (t) => t !== "::" && t !== "::1" && isIPv6(t) && (/\d/.test(t) || t.split(":").length > 3),
    pseudo: (e, t) => e.ipv6(t),
  },
  {
    name: "ipv4",
    gate: (_s, f) => has(f, F_DOT) && f.digits >= 4,
    rx: /(?<![\w.])(?<!\b(?:version|ver|v)["']?\s*[=:]\s*["']?)(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)/gi,
    accept: (t) => !reservedIPv4(t),
    pseudo: (e, t) => e.ipv4(t),
  },
  {
    name: "phone",
    gate: (_s, f) => f.digits >= 8,
    rx: /(?<![\w+.\/:-])(?:\+[1-9]\d{0,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}|\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4}|\d{3} \d{3} \d{4}|0\d{1,4}(?:[ .\/-]\d{2,8}){1,4})(?!\w|[.\/:-]?\d)/g,
    accept: phoneDigitsOk,
    pseudo: (e, t) => e.phone(t),
  },
];

/** `name=value` (query strings, form bodies, URLs, attributes, `name = value` in INI files); group 2 quoted, 3 bare. */
const KV_PAIR = /(?<![\w.-])([A-Za-z_][\w.-]{0,63})[ \t]*=[ \t]*(?:"([^"\n]{0,4096})"|([^&\s;,"'<>]{1,4096}))/dg;
/**
 * `name: value` with the name bare or quoted: JSON that is not whole (a truncated recording),
 * YAML, logs, GraphQL arguments. Group 3 is a double-quoted value (escapes allowed, the closing
 * quote may be cut off), 4 single-quoted, 5 bare (an auth scheme and its token together).
 */
const COLON_PAIR = /(?<![\w$.-])(["']?)([A-Za-z_$][\w$.-]{0,63})\1[ \t]*:[ \t]*(?:"((?:[^"\\\n]|\\.){0,4096})(?:"|$)|'([^'\n]{0,4096})(?:'|$)|((?:Bearer|Basic|Token|Digest|Bot)[ \t]+[^\s"',;]{1,4096}|[^\s"',;{}[\]()<>]{1,4096}))/dg;
/** `<name>value</name>`, with an optional namespace prefix and attributes. */
const XML_PAIR = /<((?:[\w-]+:)?([A-Za-z_][\w.-]{0,63}))(?:\s[^<>]{0,1024})?>([^<]{1,4096})<\/\1>/dg;
/** `<input name="csrf_token" value="…">`, `<meta name="csrf-token" content="…">`: the value of a sensitively named form field or meta tag. */
const HTML_TAG = /<(?:input|meta|param|option)\b[^<>]{0,2048}>/gi;
const HTML_NAME = /\s(?:name|id|property)\s*=\s*(["'])([^"'<>]{1,64})\1/i;
const HTML_VALUE = /\s(?:value|content)\s*=\s*(["'])([^"'<>]{0,4096})\1/di;

const PRIO_PEM = 0;
const PRIO_PAIR = 1;
const PRIO_RULE = 10;
const PRIO_DETECTOR = 1000;

interface CompiledRule {
  name: string;
  rx: RegExp;
  in: ReadonlySet<RuleLocation>;
  group: boolean;
}

/** pseudonyms and scan results kept, together (then all dropped) */
const CACHE_LIMIT = 200_000;
/** strings longer than this are scanned every time (bodies rarely repeat) */
const SCAN_CACHE_MAX = 512;
const BAD = Symbol("bad json");

/** Everything the public class does, kept out of sight (and out of `util.inspect`). */
/** what a scan of one string gave: its output and the labels to count each time it is seen */
interface ScanResult {
  out: string;
  labels: string[] | null;
}

class Engine {
  readonly #k: Buffer;
  /** pseudonyms by kind, then by value */
  readonly #memos = new Map<string, Map<string, string>>();
  /** scan results of strings up to SCAN_CACHE_MAX long (header values, JSON keys and values repeat a lot), by pairs on/off, then where */
  readonly #scans = [new Map<Where, Map<string, ScanResult>>(), new Map<Where, Map<string, ScanResult>>()] as const;
  #cached = 0;
  readonly counts = new Map<string, number>();
  #mute = 0;
  readonly names: Names;
  readonly detectors: readonly DetectorDef[];
  readonly cardOn: boolean;
  readonly rules: readonly CompiledRule[];

  constructor(key: Buffer, names: Names, detectors: readonly DetectorName[], rules: readonly CompiledRule[]) {
    this.#k = key;
    this.names = names;
    this.detectors = DETECTOR_DEFS.filter((d) => detectors.includes(d.name));
    this.cardOn = detectors.includes("card");
    this.rules = rules;
  }

  count(label: string): void {
    if (this.#mute === 0) this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  muted<T>(f: () => T): T {
    this.#mute++;
    try {
      return f();
    } finally {
      this.#mute--;
    }
  }

  // ---- keyed bytes and the format-keeping pseudonyms ----

  bytes(domain: string, value: string, n: number): Buffer {
    const first = createHmac("sha256", this.#k).update(domain).update("\u0000").update(value).digest();
    if (n <= first.length) return first;
    const blocks = [first];
    for (let i = 1; i * first.length < n; i++) blocks.push(createHmac("sha256", this.#k).update(first).update(String(i)).digest());
    return Buffer.concat(blocks);
  }

  memo(kind: string, value: string, make: () => string): string {
    let memo = this.#memos.get(kind);
    if (memo === undefined) this.#memos.set(kind, (memo = new Map()));
    const hit = memo.get(value);
    if (hit !== undefined) return hit;
    const out = make();
    this.#room();
    memo.set(value, out);
    return out;
  }

  /** both caches share one bound: past it, everything is dropped and rebuilt on demand */
  #room(): void {
    if (++this.#cached <= CACHE_LIMIT) return;
    this.#memos.clear();
    this.#scans[0].clear();
    this.#scans[1].clear();
    this.#cached = 1;
  }

  /**
   * Same length, same character classes: digits → digits, a–z → a–z, A–Z → A–Z (within a–f
   * when the value looks hex), other letters → ASCII letters of the same case, everything else
   * kept. A UUID keeps its version and variant. `digitsOnly` touches digits alone (numbers).
   */
  shape(value: string, digitsOnly = false): string {
    if (value === "") return value;
    return this.memo(digitsOnly ? "d" : "s", value, () => this.#shapeFresh(value, digitsOnly));
  }

  #shapeFresh(value: string, digitsOnly: boolean): string {
    let hex = true;
    let mappable = false;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c >= 103 && c <= 122) || (c >= 71 && c <= 90)) hex = false;
      if ((c >= 48 && c <= 57) || (!digitsOnly && ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127))) mappable = true;
    }
    if (!mappable) return value;
    const uuid = value.length === 36 && UUID.test(value);
    const lowerSpan = hex ? 6 : 26;
    const codes = new Uint16Array(value.length);
    for (let attempt = 0; attempt < 4; attempt++) {
      const b = this.bytes(attempt === 0 ? "shape" : `shape#${attempt}`, value, value.length);
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        const r = b[i] ?? 0;
        if (c >= 48 && c <= 57) codes[i] = 48 + (r % 10);
        else if (digitsOnly) codes[i] = c;
        else if (c >= 97 && c <= 122) codes[i] = 97 + (r % lowerSpan);
        else if (c >= 65 && c <= 90) codes[i] = 65 + (r % lowerSpan);
        else if (c > 127 && (c < 0xd800 || c > 0xdfff)) {
          const ch = String.fromCharCode(c);
          codes[i] = /\p{Lu}/u.test(ch) ? 65 + (r % 26) : /\p{L}/u.test(ch) ? 97 + (r % 26) : c;
        } else codes[i] = c;
      }
      if (uuid) {
        codes[14] = value.charCodeAt(14);
        codes[19] = value.charCodeAt(19);
      }
      const out = fromCodes(codes);
      if (out !== value) return out;
    }
    // four keyed attempts gave the input back (a one-character value): step its first mappable character
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      const [lo, span] = c >= 48 && c <= 57 ? [48, 10] : c >= 97 && c <= 122 ? [97, lowerSpan] : c >= 65 && c <= 90 ? [65, lowerSpan] : [0, 0];
      if (span > 0 && (!uuid || (i !== 14 && i !== 19)) && !(digitsOnly && lo !== 48)) {
        codes[i] = lo + ((c - lo + 1) % span);
        return fromCodes(codes);
      }
    }
    return value;
  }

  /** local part and domain labels shaped, the TLD (and the `@` or `%40`) kept */
  email(t: string): string {
    return this.memo("email", t, () => {
      const at = t.lastIndexOf("@");
      const pct = t.lastIndexOf("%40");
      const [i, sep] = at > pct ? [at, "@"] : [pct, "%40"];
      const labels = t.slice(i + sep.length).split(".");
      const tld = labels.pop() ?? "";
      return this.shape(t.slice(0, i)) + sep + labels.map((l) => this.shape(l)).join(".") + "." + tld;
    });
  }

  /** the first two digits (the card network) and the separators kept, a new Luhn check digit */
  card(t: string): string {
    return this.memo("card", t, () => {
      const digits = t.replace(/\D/g, "");
      let next = digits;
      for (let attempt = 0; attempt < 8 && next === digits; attempt++) {
        const b = this.bytes(`card#${attempt}`, digits, digits.length);
        let body = digits.slice(0, 2);
        for (let i = 2; i < digits.length - 1; i++) body += String((b[i] ?? 0) % 10);
        next = body + luhnCheckDigit(body);
      }
      let j = 0;
      return t.replace(/\d/g, () => next[j++] ?? "0");
    });
  }

  /** a valid address, each octet as many digits as before, never loopback */
  ipv4(t: string): string {
    return this.memo("ipv4", t, () => {
      const parts = t.split(".");
      for (let attempt = 0; attempt < 8; attempt++) {
        const b = this.bytes(`ipv4#${attempt}`, t, 8);
        const out = parts.map((p, i) => {
          const r = ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0);
          if (p.length === 1) return String(i === 0 ? 1 + (r % 9) : r % 10);
          if (p.length === 2) return String(10 + (r % 90));
          if (i > 0) return String(100 + (r % 156));
          const first = 100 + (r % 124);
          return String(first === 127 ? 128 : first);
        });
        const next = out.join(".");
        if (next !== t) return next;
      }
      return t;
    });
  }

  /** hex digits shaped in place (":" and "::" kept), an embedded dotted IPv4 tail as an IPv4 */
  ipv6(t: string): string {
    return this.memo("ipv6", t, () => {
      const m = /^(.*:)((?:\d{1,3}\.){3}\d{1,3})$/.exec(t);
      return m ? this.shape(m[1] ?? "") + this.ipv4(m[2] ?? "") : this.shape(t);
    });
  }

  /** the `+` and the first digit (or a trunk `0`) kept, separators kept */
  phone(t: string): string {
    const first = t.search(/\d/);
    return t.slice(0, first + 1) + this.shape(t.slice(first + 1));
  }

  /** a valid-looking SSN (no 000 / 666 / 9xx area, no 00 group, no 0000 serial) */
  ssn(t: string): string {
    return this.memo("ssn", t, () => {
      for (let attempt = 0; attempt < 8; attempt++) {
        const b = this.bytes(`ssn#${attempt}`, t, 8);
        let area = 1 + ((((b[0] ?? 0) << 8) | (b[1] ?? 0)) % 899);
        if (area === 666) area = 667;
        const group = 1 + ((b[2] ?? 0) % 99);
        const serial = 1 + ((((b[3] ?? 0) << 8) | (b[4] ?? 0)) % 9999);
        const next = `${String(area).padStart(3, "0")}-${String(group).padStart(2, "0")}-${String(serial).padStart(4, "0")}`;
        if (next !== t) return next;
      }
      return this.shape(t);
    });
  }

  /** the country kept, the account shaped, new check digits: still passes mod-97 */
  iban(t: string): string {
    return this.memo("iban", t, () => {
      const country = t.slice(0, 2);
      const rest = this.shape(t.slice(4));
      const check = 98 - mod97(rest.replace(/ /g, "") + country + "00");
      return country + String(check).padStart(2, "0") + rest;
    });
  }

  /**
   * Header kept; the payload decoded and its claims replaced (iss, aud, exp, iat, scope… kept)
   * so a service that reads claims without checking the signature still can; signature (and a
   * JWE's other parts) shaped.
   */
  jwt(t: string): string {
    return this.memo("jwt", t, () => {
      const [header = "", payload = "", ...rest] = t.split(".");
      let next = this.shape(payload);
      try {
        const json = Buffer.from(payload, "base64url").toString("utf8");
        if (Buffer.from(json, "utf8").toString("base64url") === payload.replace(/=+$/, "")) {
          const out = this.muted(() => new JsonRewriter(this, json, "none", true).run());
          if (out !== null) next = out === json ? payload : Buffer.from(out, "utf8").toString("base64url");
        }
      } catch {
        // not base64url JSON: keep the shaped payload
      }
      const parts = [header, next, ...rest.map((p) => this.shape(p))];
      if (parts.join(".") === t) parts[1] = this.shape(payload);
      return parts.join(".");
    });
  }

  /** BEGIN / END lines kept; the base64 body shaped around line breaks (real or written as `\n`) */
  pem(t: string): string {
    return this.memo("pem", t, () => {
      const open = t.indexOf("-----", 10) + 5;
      const close = t.lastIndexOf("-----END");
      const end = close > open ? close : t.length;
      const body = t.slice(open, end).replace(/(\\[nrt]|\s+)|[^\s\\]+/g, (piece: string, sep: string | undefined) => (sep ? piece : this.shape(piece)));
      return t.slice(0, open) + body + t.slice(end);
    });
  }

  /**
   * A whole sensitive value: an auth scheme kept (Basic credentials decoded and re-encoded,
   * Digest / OAuth / AWS4 parameters one by one); a value that is wholly one detectable thing
   * gets that detector's pseudonym (so it matches the same value found in free text); an ISO
   * date stays a valid date; anything else is shaped.
   */
  pseudoValue(v: string): string {
    if (v === "") return v;
    return this.memo("value", v, () => {
      const scheme = SCHEME.exec(v);
      if (scheme) {
        const name = scheme[1] ?? "";
        const rest = v.slice(scheme[0].length);
        if (name.toLowerCase() === "basic") return scheme[0] + this.#basic(rest);
        if (PARAM_SCHEMES.has(name.toLowerCase()) && /^[\w-]+\s*=/.test(rest)) return scheme[0] + this.#params(rest);
        return scheme[0] + this.pseudoValue(rest);
      }
      const whole = this.#whole(v);
      if (whole !== null) return whole;
      const date = ISO_DATE.exec(v);
      if (date) return this.#date(v, date);
      return this.shape(v);
    });
  }

  /** a sensitive number token: a card stays a card, else digits shaped without a leading zero */
  pseudoNumber(token: string): string {
    return this.memo("number", token, () => {
      if (this.cardOn && /^\d{13,19}$/.test(token) && isCardNumber(token)) return this.card(token);
      let out = this.shape(token, true);
      const sign = out.startsWith("-") ? 1 : 0;
      if (out[sign] === "0" && out.length > sign + 1 && /\d/.test(out[sign + 1] ?? "")) out = out.slice(0, sign) + (token[sign] === "9" ? "8" : "9") + out.slice(sign + 1);
      return out;
    });
  }

  /** a sensitive value that may be percent-encoded: decoded, replaced, encoded the way it was */
  pseudoEncoded(raw: string, plus: boolean): string {
    const decoded = decode(raw, plus);
    if (decoded === null || decoded === raw) return this.pseudoValue(raw);
    return encodeLike(this.pseudoValue(decoded), raw, plus);
  }

  #basic(rest: string): string {
    const decoded = Buffer.from(rest, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0 || !/^[\x20-\x7e]*$/.test(decoded) || Buffer.from(decoded, "utf8").toString("base64") !== rest) return this.shape(rest);
    const next = this.shape(decoded.slice(0, colon)) + ":" + this.pseudoValue(decoded.slice(colon + 1));
    return Buffer.from(next, "utf8").toString("base64");
  }

  #params(rest: string): string {
    return rest.replace(/([\w-]+)(\s*=\s*)("([^"]*)"|[^,\s]*)/g, (all: string, key: string, eq: string, value: string, quoted: string | undefined) => {
      const k = key.toLowerCase();
      if (PARAM_KEEP.has(k)) return all;
      if (k === "credential") return key + eq + this.muted(() => this.scan(value, "none", false));
      return key + eq + (quoted !== undefined ? `"${this.pseudoValue(quoted)}"` : this.pseudoValue(value));
    });
  }

  #date(v: string, m: RegExpExecArray): string {
    for (let attempt = 0; attempt < 8; attempt++) {
      const b = this.bytes(`date#${attempt}`, v, 4);
      const year = 1930 + ((((b[0] ?? 0) << 8) | (b[1] ?? 0)) % 80);
      const month = 1 + ((b[2] ?? 0) % 12);
      const day = 1 + ((b[3] ?? 0) % 28);
      const next = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}${m[4] ?? ""}`;
      if (next !== v) return next;
    }
    return this.shape(v);
  }

  /** the pseudonym of `v` when one detector matches all of it, else null */
  #whole(v: string): string | null {
    const spans = this.spans(v, "none", false);
    const only = spans?.length === 1 ? spans[0] : undefined;
    return only && only.start === 0 && only.end === v.length && only.label !== null ? only.make(v.slice(only.start, only.end)) : null;
  }

  // ---- scanning free text ----

  /** detectors, name pairs and user rules on free text; matches replaced and counted */
  scan(s: string, where: Where, pairs = true): string {
    if (s.length < 3) return s;
    if (s.length > SCAN_CACHE_MAX) return this.#scanFresh(s, where, pairs).out;
    const byWhere = this.#scans[pairs ? 1 : 0];
    const w = this.rules.length > 0 ? where : "any";
    let cache = byWhere.get(w);
    if (cache === undefined) byWhere.set(w, (cache = new Map()));
    const hit = cache.get(s);
    if (hit !== undefined) {
      if (hit.labels !== null) for (const label of hit.labels) this.count(label);
      return hit.out;
    }
    const result = this.#scanFresh(s, where, pairs);
    this.#room();
    cache.set(s, result);
    return result.out;
  }

  #scanFresh(s: string, where: Where, pairs: boolean): ScanResult {
    const spans = this.spans(s, where, pairs);
    if (spans === null) return { out: s, labels: null };
    let out = "";
    let last = 0;
    let labels: string[] | null = null;
    for (const span of spans) {
      const text = s.slice(span.start, span.end);
      const next = span.make(text);
      out += s.slice(last, span.start) + next;
      last = span.end;
      if (next !== text && span.label !== null) {
        this.count(span.label);
        (labels ??= []).push(span.label);
      }
    }
    return { out: out + s.slice(last), labels };
  }

  /** the non-overlapping spans to replace, in order, or null when there is none */
  spans(s: string, where: Where, pairs: boolean): Span[] | null {
    if (s.length < 3) return null;
    const f = factsOf(s);
    let found: Span[] | null = null;
    const push = (span: Span) => (found ??= []).push(span);

    for (let d = 0; d < this.detectors.length; d++) {
      const det = this.detectors[d]!;
      if (!det.gate(s, f)) continue;
      const prio = det.name === "private-key" ? PRIO_PEM : PRIO_DETECTOR + d;
      const label = `detector:${det.name}`;
      det.rx.lastIndex = 0;
      for (let m = det.rx.exec(s); m !== null; m = det.rx.exec(s)) {
        const text = m[0];
        if (det.accept && !det.accept(text)) continue;
        const match = m;
        const end = m.index + text.length;
        const start = det.group === undefined ? m.index : end - (m[det.group] ?? "").length;
        push({ start, end, prio, label, make: (t) => det.pseudo(this, t, match) });
      }
    }
    if (pairs) this.#pairs(s, f, push);
    if (where !== "none") {
      for (let r = 0; r < this.rules.length; r++) {
        const rule = this.rules[r]!;
        if (where !== "any" && !rule.in.has(where)) continue;
        const label = `rule:${rule.name}`;
        rule.rx.lastIndex = 0;
        for (let m = rule.rx.exec(s); m !== null; m = rule.rx.exec(s)) {
          if (m[0].length === 0) {
            rule.rx.lastIndex++;
            continue;
          }
          let [start, end] = [m.index, m.index + m[0].length];
          if (rule.group) {
            const g = m.indices?.groups?.["value"];
            if (!g || g[0] === g[1]) continue;
            [start, end] = g;
          }
          push({ start, end, prio: PRIO_RULE + r, label, make: (t) => this.pseudoValue(t) });
        }
      }
    }
    return found === null ? null : resolve(found, (t) => this.shape(t));
  }

  #pairs(s: string, f: Facts, push: (span: Span) => void): void {
    const field = (name: string, start: number, end: number, make: (t: string) => string) => {
      const label = this.names.field(name);
      if (label !== null && end > start) push({ start, end, prio: PRIO_PAIR, label: `field:${label}`, make });
    };
    if (has(f, F_EQ)) {
      KV_PAIR.lastIndex = 0;
      for (let m = KV_PAIR.exec(s); m !== null; m = KV_PAIR.exec(s)) {
        const quoted = m[2] !== undefined;
        const at = m.indices?.[quoted ? 2 : 3];
        if (at) field(m[1] ?? "", at[0], at[1], (t) => (quoted ? this.pseudoValue(t) : this.pseudoEncoded(t, false)));
      }
    }
    if (has(f, F_COLON)) {
      COLON_PAIR.lastIndex = 0;
      for (let m = COLON_PAIR.exec(s); m !== null; m = COLON_PAIR.exec(s)) {
        const group = m[3] !== undefined ? 3 : m[4] !== undefined ? 4 : 5;
        const at = m.indices?.[group];
        if (at) field(m[2] ?? "", at[0], at[1], group === 3 ? (t) => this.#escapedString(t) : group === 5 && /^-?\d+(?:\.\d+)?$/.test(m[5] ?? "") ? (t) => this.pseudoNumber(t) : (t) => this.pseudoValue(t));
      }
    }
    if (has(f, F_LT) && s.includes("</")) {
      XML_PAIR.lastIndex = 0;
      for (let m = XML_PAIR.exec(s); m !== null; m = XML_PAIR.exec(s)) {
        const at = m.indices?.[3];
        if (at && (m[3] ?? "").trim() !== "") field(m[2] ?? "", at[0], at[1], (t) => t.replace(/&#?\w+;|[^&]+/g, (piece) => (piece.startsWith("&") && piece.endsWith(";") ? piece : this.pseudoValue(piece))));
      }
    }
    if (has(f, F_LT) && has(f, F_EQ)) {
      HTML_TAG.lastIndex = 0;
      for (let m = HTML_TAG.exec(s); m !== null; m = HTML_TAG.exec(s)) {
        const name = HTML_NAME.exec(m[0]);
        const value = name ? HTML_VALUE.exec(m[0]) : null;
        const at = value?.indices?.[2];
        if (name && at) field(name[2] ?? "", m.index + at[0], m.index + at[1], (t) => this.pseudoValue(t));
      }
    }
  }

  /** the inside of a JSON string literal (escapes and all) replaced as one value */
  #escapedString(raw: string): string {
    if (!raw.includes("\\")) return this.pseudoValue(raw);
    try {
      const value = JSON.parse(`"${raw}"`) as string;
      return JSON.stringify(this.pseudoValue(value)).slice(1, -1);
    } catch {
      return this.shape(raw);
    }
  }

  // ---- structured parts of an exchange ----

  headers(headers: Record<string, string>, where: Where): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) out[name] = this.header(name, value, where);
    return out;
  }

  header(name: string, value: string, where: Where): string {
    if (typeof value !== "string" || value === "") return value;
    const lower = name.toLowerCase();
    if (this.names.kept(lower)) return value;
    if (lower === "cookie") return this.cookies(value, false, "header:cookie");
    if (lower === "set-cookie") return value.split(/(\n|,\s*(?=[^;,=\s]+=))/).map((part, i) => (i % 2 === 1 ? part : this.cookies(part, true, "header:set-cookie"))).join("");
    if (this.names.header(lower)) {
      const next = this.pseudoValue(value);
      if (next !== value) this.count(`header:${lower}`);
      return next;
    }
    return this.scan(value, where);
  }

  /** each cookie's value replaced, names and attributes kept; `first`: only the first pair (Set-Cookie) */
  cookies(value: string, first: boolean, label: string): string {
    const parts = value.split(";");
    for (let i = 0; i < (first ? Math.min(1, parts.length) : parts.length); i++) {
      const part = parts[i] ?? "";
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      const raw = part.slice(eq + 1);
      const lead = raw.length - raw.trimStart().length;
      const inner = raw.trim();
      if (inner === "" || this.names.kept(name)) continue;
      const quoted = inner.length >= 2 && inner.startsWith('"') && inner.endsWith('"');
      const next = quoted ? `"${this.pseudoEncoded(inner.slice(1, -1), false)}"` : this.pseudoEncoded(inner, false);
      if (next === inner) continue;
      parts[i] = part.slice(0, eq + 1) + raw.slice(0, lead) + next + raw.slice(lead + inner.length);
      this.count(label);
    }
    return parts.join(";");
  }

  /** path segments through the detectors (decoded, re-encoded), then the query by name */
  path(path: string, where: Where): string {
    const q = path.indexOf("?");
    const pathPart = q < 0 ? path : path.slice(0, q);
    const segments = pathPart.split("/").map((segment) => {
      if (segment.length < 3) return segment;
      const decoded = decode(segment, false);
      if (decoded === null) return this.scan(segment, where, false);
      const next = this.scan(decoded, where, false);
      return next === decoded ? segment : encodeLike(next, segment, false);
    });
    const out = segments.join("/");
    return q < 0 ? out : out + "?" + this.query(path.slice(q + 1), "query", false);
  }

  /** `a=1&b=2`: sensitive names replaced whole, other values through the detectors; `plus`: `+` is a space (form bodies) */
  query(text: string, where: Where, plus: boolean): string {
    const hash = text.indexOf("#");
    const body = hash < 0 ? text : text.slice(0, hash);
    const parts = body.split("&").map((part) => {
      if (part === "") return part;
      const eq = part.indexOf("=");
      const rawName = eq < 0 ? "" : part.slice(0, eq);
      const rawValue = eq < 0 ? part : part.slice(eq + 1);
      if (rawValue === "") return part;
      const name = decode(rawName, plus) ?? rawName;
      if (name !== "" && this.names.kept(name)) return part;
      const label = name === "" ? null : this.names.field(name);
      let next: string;
      if (label !== null) {
        next = this.pseudoEncoded(rawValue, plus);
        if (next !== rawValue) this.count(`field:${label}`);
      } else {
        const decoded = decode(rawValue, plus);
        if (decoded === null) next = this.scan(rawValue, where);
        else {
          const scanned = this.scan(decoded, where);
          next = scanned === decoded ? rawValue : encodeLike(scanned, rawValue, plus);
        }
      }
      return eq < 0 ? next : rawName + "=" + next;
    });
    return parts.join("&") + (hash < 0 ? "" : text.slice(hash));
  }

  body(text: string, contentType: string | undefined, where: Where): string {
    if (text === "") return text;
    const ct = (contentType ?? "").toLowerCase();
    const first = /\S/.exec(text)?.[0];
    if (ct.includes("json") || first === "{" || first === "[") {
      const out = new JsonRewriter(this, text, where, false).run();
      if (out !== null) return out;
      if (text.includes("\n")) {
        const lines = text.split(/(\r?\n)/);
        if (lines.some((line) => line.trimStart().startsWith("{"))) return lines.map((line, i) => (i % 2 === 1 || line.trim() === "" ? line : (new JsonRewriter(this, line, where, false).run() ?? this.scan(line, where)))).join("");
      }
    }
    if (ct.includes("x-www-form-urlencoded")) return this.query(text, where, true);
    if (ct.startsWith("multipart/")) {
      const out = this.multipart(text, contentType ?? "", where);
      if (out !== null) return out;
    }
    return this.scan(text, where);
  }

  /** parts by name, like form fields; `contentType` as sent (the boundary is case-sensitive) */
  multipart(text: string, contentType: string, where: Where): string | null {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    const delimiter = "--" + (boundary?.[1] ?? boundary?.[2] ?? "");
    if (delimiter === "--" || !text.includes(delimiter)) return null;
    const parts = text.split(delimiter);
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i] ?? "";
      if (part.startsWith("--")) continue;
      const sep = part.indexOf("\r\n\r\n") >= 0 ? "\r\n\r\n" : "\n\n";
      const split = part.indexOf(sep);
      if (split < 0) continue;
      const head = part.slice(0, split);
      const tailMatch = /\r?\n$/.exec(part);
      const contentEnd = tailMatch ? part.length - tailMatch[0].length : part.length;
      const content = part.slice(split + sep.length, contentEnd);
      const name = /\bname="([^"]*)"/i.exec(head)?.[1] ?? "";
      if (name !== "" && this.names.kept(name)) continue;
      const label = name === "" || /\bfilename=/i.test(head) ? null : this.names.field(name);
      let next: string;
      if (label !== null) {
        next = this.pseudoValue(content);
        if (next !== content) this.count(`field:${label}`);
      } else next = this.scan(content, where);
      parts[i] = this.scan(head, where, false) + sep + next + part.slice(contentEnd);
    }
    return parts.join(delimiter);
  }
}

/**
 * Keep the highest-priority spans that do not overlap; where a lower one reaches beyond the
 * kept ones (a card whose first group sat inside a `card=` pair), its uncovered part is shaped
 * so no piece of it survives.
 */
function resolve(spans: Span[], shape: (t: string) => string): Span[] {
  if (spans.length === 1) return spans;
  spans.sort((a, b) => a.prio - b.prio || a.start - b.start);
  const kept: Span[] = [];
  const rejected: Span[] = [];
  for (const span of spans) {
    if (kept.some((k) => k.start < span.end && span.start < k.end)) rejected.push(span);
    else kept.push(span);
  }
  kept.sort((a, b) => a.start - b.start);
  for (const span of rejected) {
    const pieces: Span[] = [];
    let from = span.start;
    for (const k of kept) {
      if (k.end <= from || k.start >= span.end) continue;
      if (k.start > from) pieces.push({ start: from, end: k.start, prio: span.prio, label: null, make: shape });
      from = Math.max(from, k.end);
    }
    if (from < span.end) pieces.push({ start: from, end: span.end, prio: span.prio, label: null, make: shape });
    if (pieces.length > 0) {
      kept.push(...pieces);
      kept.sort((a, b) => a.start - b.start);
    }
  }
  return kept;
}

/** Rewrites string and number tokens of a JSON text in place: formatting, key order and big numbers survive. */
type Mode = typeof SCAN | typeof KEEP | typeof CLAIM | string;
const SCAN = 0;
const KEEP = 1;
const CLAIM = 2;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class JsonRewriter {
  #i = 0;
  #last = 0;
  readonly #out: string[] = [];

  constructor(
    readonly e: Engine,
    readonly s: string,
    readonly where: Where,
    readonly claims: boolean,
  ) {}

  /** the rewritten text, the same string when nothing changed, null when it is not JSON */
  run(): string | null {
    try {
      this.#ws();
      this.#value(this.claims ? CLAIM : SCAN, 0);
      this.#ws();
      if (this.#i !== this.s.length) return null;
    } catch (error) {
      if (error === BAD) return null;
      throw error;
    }
    if (this.#out.length === 0) return this.s;
    this.#out.push(this.s.slice(this.#last));
    return this.#out.join("");
  }

  #replace(start: number, end: number, text: string): void {
    this.#out.push(this.s.slice(this.#last, start), text);
    this.#last = end;
  }

  #ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.#i);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++this.#i);
  }

  #value(mode: Mode, depth: number): void {
    if (depth > 256) throw BAD;
    const c = this.s[this.#i];
    if (c === "{") this.#object(mode, depth);
    else if (c === "[") this.#array(mode, depth);
    else if (c === '"') this.#stringValue(mode);
    else if (c === "t" && this.s.startsWith("true", this.#i)) this.#i += 4;
    else if (c === "f" && this.s.startsWith("false", this.#i)) this.#i += 5;
    else if (c === "n" && this.s.startsWith("null", this.#i)) this.#i += 4;
    else this.#number(mode);
  }

  #object(mode: Mode, depth: number): void {
    this.#i++;
    this.#ws();
    if (this.s[this.#i] === "}") {
      this.#i++;
      return;
    }
    for (;;) {
      if (this.s[this.#i] !== '"') throw BAD;
      const [start, end, key, escaped] = this.#string();
      if (mode !== KEEP) {
        const next = this.e.scan(key, this.where, false);
        if (next !== key) this.#replace(start, end, literal(next, escaped));
      }
      this.#ws();
      if (this.s[this.#i] !== ":") throw BAD;
      this.#i++;
      this.#ws();
      this.#value(this.#child(mode, key), depth + 1);
      this.#ws();
      const c = this.s[this.#i++];
      if (c === "}") return;
      if (c !== ",") throw BAD;
      this.#ws();
    }
  }

  #child(mode: Mode, key: string): Mode {
    if (mode !== SCAN && mode !== CLAIM) return mode;
    if (this.e.names.kept(key)) return KEEP;
    const label = this.e.names.field(key);
    if (label !== null) return label;
    if (mode === CLAIM) return CLAIM_KEEP.has(key) ? KEEP : CLAIM;
    return SCAN;
  }

  #array(mode: Mode, depth: number): void {
    this.#i++;
    this.#ws();
    if (this.s[this.#i] === "]") {
      this.#i++;
      return;
    }
    for (;;) {
      this.#value(mode, depth + 1);
      this.#ws();
      const c = this.s[this.#i++];
      if (c === "]") return;
      if (c !== ",") throw BAD;
      this.#ws();
    }
  }

  /** [start, end (after the closing quote), decoded value, had escapes] */
  #string(): [number, number, string, boolean] {
    const s = this.s;
    const start = this.#i;
    let j = start + 1;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q < 0) throw BAD;
      let backslashes = 0;
      for (let b = q - 1; s.charCodeAt(b) === 92; b--) backslashes++;
      if (backslashes % 2 === 0) {
        this.#i = q + 1;
        const raw = s.slice(start + 1, q);
        if (!raw.includes("\\")) return [start, q + 1, raw, false];
        try {
          return [start, q + 1, JSON.parse(s.slice(start, q + 1)) as string, true];
        } catch {
          throw BAD;
        }
      }
      j = q + 1;
    }
  }

  #stringValue(mode: Mode): void {
    const [start, end, value, escaped] = this.#string();
    if (mode === KEEP || value === "") return;
    let next: string;
    if (mode === SCAN) next = this.e.scan(value, this.where);
    else if (mode === CLAIM) next = this.e.pseudoValue(value);
    else {
      next = this.e.pseudoValue(value);
      if (next !== value) this.e.count(`field:${mode}`);
    }
    if (next !== value) this.#replace(start, end, literal(next, escaped));
  }

  #number(mode: Mode): void {
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.s);
    if (!m) throw BAD;
    const start = this.#i;
    const token = m[0];
    this.#i += token.length;
    if (mode === KEEP || mode === CLAIM) return;
    if (mode === SCAN) {
      if (this.e.cardOn && token.length >= 13 && token.length <= 19 && /^\d+$/.test(token) && isCardNumber(token)) {
        this.#replace(start, this.#i, this.e.card(token));
        this.e.count("detector:card");
      }
      return;
    }
    const next = this.e.pseudoNumber(token);
    if (next !== token) {
      this.#replace(start, this.#i, next);
      this.e.count(`field:${mode}`);
    }
  }
}

function literal(value: string, escaped: boolean): string {
  return escaped || /["\\\u0000-\u001f]/.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function fromCodes(codes: Uint16Array): string {
  if (codes.length <= 8192) return String.fromCharCode.apply(null, codes as unknown as number[]);
  let out = "";
  for (let i = 0; i < codes.length; i += 8192) out += String.fromCharCode(...codes.subarray(i, i + 8192));
  return out;
}

function decode(raw: string, plus: boolean): string | null {
  if (!raw.includes("%") && !(plus && raw.includes("+"))) return raw;
  try {
    return decodeURIComponent(plus ? raw.replace(/\+/g, " ") : raw);
  } catch {
    return null;
  }
}

/** percent-encode `value` the way `raw` was: characters it had literal stay literal, ones it had encoded stay encoded */
function encodeLike(value: string, raw: string, plus: boolean): string {
  let out = encodeURIComponent(value);
  if (/%(?:21|27|28|29|2A)/i.test(raw)) out = out.replace(/[!'()*]/g, (c) => (raw.includes(c) ? c : "%" + c.charCodeAt(0).toString(16).toUpperCase()));
  if (!out.includes("%")) return out;
  return out.replace(/%([0-9A-F]{2})/g, (all: string, hex: string) => {
    const code = parseInt(hex, 16);
    if (code >= 0x80) return all;
    const c = String.fromCharCode(code);
    if (plus && c === " ") return "+";
    if ("&#%".includes(c) || (plus && c === "+")) return all;
    return raw.includes(c) ? c : all;
  });
}

/**
 * Anonymises recorded exchanges: see the module comment. One instance per run (its key and
 * its counts); pure apart from the counts and a bounded cache of pseudonyms.
 */
export class Anonymiser {
  readonly #e: Engine;

  constructor(options: AnonymiseOptions) {
    if (typeof options.key !== "string" || options.key === "") throw new AnonymiseError("anonymise: key: expected a non-empty secret string");
    const detectors = options.detectors ?? [...DETECTORS];
    detectors.forEach((name, i) => {
      if (!(DETECTORS as readonly string[]).includes(name)) throw new AnonymiseError(`anonymise: detectors[${i}]: expected one of ${DETECTORS.join(", ")}, got ${JSON.stringify(name)}`);
    });
    const rules = (options.rules ?? []).map((rule, i) => compileRule(rule, `anonymise: rules[${i}]`));
    const key = createHmac("sha256", options.key).update("shadowgate/anonymise/v1").digest();
    this.#e = new Engine(key, new Names(options.fields ?? [], options.headers ?? [], options.keep ?? []), detectors, rules);
  }

  /** headers (cookies value by value), path segments, query, body (JSON / form / multipart / text) and the recorded response */
  request(r: ReplayRequest): ReplayRequest {
    const out: ReplayRequest = { ...r, path: this.#e.path(r.path, "path"), headers: this.#e.headers(r.headers, "headers") };
    if (r.body !== undefined) out.body = this.#e.body(r.body, contentType(r.headers), "body");
    if (r.response !== undefined) out.response = this.response(r.response);
    return out;
  }

  /** headers (Set-Cookie values included) and body of a recorded response */
  response(r: RecordedResponse): RecordedResponse {
    const out: RecordedResponse = { ...r, headers: this.#e.headers(r.headers, "response") };
    if (r.body !== undefined) out.body = this.#e.body(r.body, contentType(r.headers), "response");
    return out;
  }

  /** detectors, `name=value` / JSON / XML name pairs and every user rule on free text */
  text(s: string): string {
    return this.#e.scan(s, "any");
  }

  /** replacements so far, per rule: `header:authorization`, `field:email`, `detector:card`, `rule:<name>` */
  summary(): Record<string, number> {
    return Object.fromEntries([...this.#e.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

function contentType(headers: Record<string, string>): string | undefined {
  if (headers["content-type"] !== undefined) return headers["content-type"];
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === "content-type") return value;
  return undefined;
}

function compileRule(rule: AnonymiseRule, where: string): CompiledRule {
  if (typeof rule.name !== "string" || rule.name.trim() === "") throw new AnonymiseError(`${where}.name: expected a non-empty string`);
  if (!(rule.pattern instanceof RegExp)) throw new AnonymiseError(`${where}.pattern: expected a regular expression`);
  if (!Array.isArray(rule.in) || rule.in.length === 0) throw new AnonymiseError(`${where}.in: expected a non-empty list of ${RULE_LOCATIONS.join(", ")}`);
  rule.in.forEach((loc, j) => {
    if (!(RULE_LOCATIONS as readonly string[]).includes(loc)) throw new AnonymiseError(`${where}.in[${j}]: expected one of ${RULE_LOCATIONS.join(", ")}, got ${JSON.stringify(loc)}`);
  });
  const group = /\(\?<value>/.test(rule.pattern.source);
  const flags = new Set(rule.pattern.flags.replace(/[gyd]/g, ""));
  flags.add("g");
  if (group) flags.add("d");
  return { name: rule.name, rx: new RegExp(rule.pattern.source, [...flags].join("")), in: new Set(rule.in), group };
}

