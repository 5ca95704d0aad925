/**
 * A seeded corpus of recorded exchanges full of personal data and secrets, for checking that
 * anonymisation leaves none of them behind (unit tests here, end-to-end tests through the real
 * pipeline elsewhere). Every value planted is listed in `planted`; each is long and random
 * enough that finding it in an output means it leaked, not that it was made up again.
 *
 * Identities are drawn from a pool, so the same email, session cookie or token recurs across
 * requests and between a response and a later request (a login's Set-Cookie and access token
 * are what the next requests send).
 */
import type { ReplayRequest } from "../../src/core/ports.js";
import { mulberry32, type Rng } from "../../src/search/random.js";

export interface PiiCorpus {
  requests: ReplayRequest[];
  /** every secret or personal value planted, as planted (decoded: a value sent percent-encoded is listed as its plain text) */
  planted: string[];
}

/** One person and their credentials, reused by several requests. */
export interface Identity {
  fullName: string;
  email: string;
  /** a second address, only in free text */
  altEmail: string;
  phone: string;
  altPhone: string;
  card: string;
  ssn: string;
  iban: string;
  ipv4: string;
  ipv6: string;
  password: string;
  session: string;
  csrf: string;
  refreshToken: string;
  jwt: string;
  street: string;
}

/** Ordinary values the anonymiser must leave alone; every request carries some of them. */
export const ORDINARY = {
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  timestamp: "2026-11-01T10:20:30.123Z",
  version: "1.2.3",
} as const;

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
const ALNUM = LOWER + UPPER + DIGITS;
const B64URL = ALNUM + "-_";
const B64 = ALNUM + "+/";
const HEX = "0123456789abcdef";

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

export function ibanValid(iban: string): boolean {
  const compact = iban.replace(/ /g, "");
  const moved = compact.slice(4) + compact.slice(0, 4);
  let r = 0;
  for (const ch of moved) {
    const v = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) r = (r * 10 + Number(d)) % 97;
  }
  return r === 1;
}

class Gen {
  constructor(readonly rng: Rng) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)] as T;
  }
  chars(alphabet: string, n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) out += alphabet[Math.floor(this.rng() * alphabet.length)];
    return out;
  }
  uuid(): string {
    const h = (n: number) => this.chars(HEX, n);
    return `${h(8)}-${h(4)}-4${h(3)}-${this.pick(["8", "9", "a", "b"])}${h(3)}-${h(12)}`;
  }
  word(syllables: number): string {
    let out = "";
    for (let i = 0; i < syllables; i++) out += this.pick(["b", "d", "f", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]) + this.pick(["a", "e", "i", "o", "u"]) + this.pick(["", "n", "r", "s", "x"]);
    return out;
  }
  cap(word: string): string {
    return word.charAt(0).toUpperCase() + word.slice(1);
  }

  email(domain: string): string {
    return `${this.word(2)}.${this.word(3)}${this.int(10, 999)}@${domain}`;
  }
  phone(): string {
    const d = (n: number) => this.chars(DIGITS, n);
    switch (this.int(0, 5)) {
      case 0:
        return `+1${this.int(201, 989)}${this.int(200, 999)}${d(4)}`;
      case 1:
        return `+44 20 ${this.int(1000, 9999)} ${d(4)}`;
      case 2:
        return `(${this.int(201, 989)}) ${this.int(200, 999)}-${d(4)}`;
      case 3:
        return `${this.int(201, 989)}-${this.int(200, 999)}-${d(4)}`;
      case 4:
        return `0${this.int(20, 99)} ${this.int(1000, 9999)} ${d(4)}`;
      default:
        return `+49 30 ${this.int(1000000, 99999999)}`;
    }
  }
  card(): string {
    const [prefix, length, groups] = this.pick([
      ["4", 16, [4, 4, 4, 4]],
      [String(this.int(51, 55)), 16, [4, 4, 4, 4]],
      [this.pick(["34", "37"]), 15, [4, 6, 5]],
      ["6011", 16, [4, 4, 4, 4]],
      ["35" + this.int(28, 89), 16, [4, 4, 4, 4]],
    ] as const);
    let body = prefix + this.chars(DIGITS, length - prefix.length - 1);
    for (let d = 0; d < 10; d++) {
      if (luhnValid(body + d)) {
        body += d;
        break;
      }
    }
    const sep = this.pick(["", " ", "-"]);
    if (sep === "") return body;
    const parts: string[] = [];
    let at = 0;
    for (const g of groups) {
      parts.push(body.slice(at, at + g));
      at += g;
    }
    return parts.join(sep);
  }
  ssn(): string {
    return `${this.int(101, 665)}-${this.int(10, 99)}-${this.int(1000, 9999)}`;
  }
  iban(): string {
    const bban = this.pick(["WEST", "BARC", "NWBK", "LOYD"]) + this.chars(DIGITS, 14);
    for (let c = 2; c < 99; c++) {
      const candidate = `GB${String(c).padStart(2, "0")}${bban}`;
      if (ibanValid(candidate)) return candidate.replace(/(.{4})(?=.)/g, "$1 ");
    }
    throw new Error("no IBAN check digits");
  }
  ipv4(): string {
    let first = this.int(1, 223);
    if (first === 127) first = 128;
    return `${first}.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }
  ipv6(): string {
    const group = () => this.int(0x1000, 0xffff).toString(16);
    return this.rng() < 0.5 ? `2001:db8:${group()}:${group()}::${group()}` : Array.from({ length: 8 }, group).join(":");
  }
  jwt(claims: Record<string, unknown>): string {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    return `${enc({ alg: "HS256", typ: "JWT" })}.${enc(claims)}.${this.chars(B64URL, 43)}`;
  }
  pem(): string {
    const lines = Array.from({ length: 8 }, () => this.chars(B64, 64));
    return `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n${this.chars(B64, 20)}==\n-----END PRIVATE KEY-----`;
  }
}

export function piiCorpus(seed: number, count: number): PiiCorpus {
  const g = new Gen(mulberry32(seed));
  const planted = new Set<string>();
  const plant = <T extends string>(value: T): T => {
    planted.add(value);
    return value;
  };

  const domains = Array.from({ length: 6 }, () => `${g.word(2)}${g.word(1)}.${g.pick(["com", "org", "io", "net", "de", "co.uk"])}`);
  const identities: Identity[] = Array.from({ length: Math.max(3, Math.ceil(count / 4)) }, () => {
    const fullName = `${g.cap(g.word(2))} ${g.cap(g.word(3))}`;
    const email = g.email(g.pick(domains));
    const identity: Identity = {
      fullName,
      email,
      altEmail: g.email(g.pick(domains)),
      phone: g.phone(),
      altPhone: g.phone(),
      card: g.card(),
      ssn: g.ssn(),
      iban: g.iban(),
      ipv4: g.ipv4(),
      ipv6: g.ipv6(),
      password: `${g.pick(["Pw!", "S3c#", "pa$$"])}${g.chars(ALNUM, 12)}`,
      session: g.chars(HEX, 32),
      csrf: g.chars(ALNUM, 40),
      refreshToken: g.chars(ALNUM, 48),
      jwt: g.jwt({ sub: `usr_${g.chars(ALNUM, 12)}`, email, name: fullName, iss: "https://auth.example.test", iat: 1_790_000_000, exp: 1_790_003_600 }),
      street: `${g.int(10, 999)} ${g.cap(g.word(3))} Road`,
    };
    for (const [key, value] of Object.entries(identity)) if (key !== "fullName") plant(value);
    return identity;
  });

  const requests: ReplayRequest[] = [];
  for (let i = 0; i < count; i++) {
    const who = g.pick(identities);
    const other = g.pick(identities);
    const requestId = g.uuid();
    const common = { "x-request-id": requestId, "user-agent": ORDINARY.userAgent, accept: "application/json" };
    const at = 1_790_000_000_000 + i * 250;
    const orderId = g.int(10000, 99999);
    switch (i % 8) {
      case 0: // login: form body in, tokens and a session cookie out
        requests.push({
          method: "POST",
          path: "/api/v1/login",
          at,
          headers: { ...common, "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": who.ipv4, cookie: `csrftoken=${who.csrf}; theme=dark` },
          body: `username=${encodeURIComponent(who.email)}&password=${encodeURIComponent(who.password)}&remember=true&csrf_token=${who.csrf}`,
          response: {
            status: 200,
            headers: { "content-type": "application/json", "set-cookie": `session=${who.session}; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure` },
            body: JSON.stringify({ access_token: who.jwt, token_type: "Bearer", expires_in: 3600, refresh_token: who.refreshToken, user: { id: orderId, email: who.email, full_name: who.fullName } }),
            latencyMs: 12,
          },
        });
        break;
      case 1: // profile: email in the path, phone in the query, PII in the recorded response
        requests.push({
          method: "GET",
          path: `/api/v1/users/${g.rng() < 0.5 ? who.email : encodeURIComponent(who.email)}/profile?include=orders&version=${ORDINARY.version}&phone=${encodeURIComponent(who.phone)}`,
          at,
          headers: { ...common, authorization: `Bearer ${who.jwt}`, cookie: `session=${who.session}; theme=dark` },
          response: {
            status: 200,
            headers: { "content-type": "application/json; charset=utf-8", etag: `W/"${g.chars(HEX, 16)}"` },
            body: JSON.stringify(
              {
                id: orderId,
                email: who.email,
                phone: who.phone,
                address: { street: who.street, city: "Springfield" },
                last_login_ip: who.ipv4,
                last_login_ip6: who.ipv6,
                created_at: ORDINARY.timestamp,
                count: 42,
                request_id: requestId,
                ssn: who.ssn,
                bank: { iban: who.iban },
              },
              null,
              2,
            ),
          },
        });
        break;
      case 2: {
        // checkout: JSON body with a card, free text with PII, Stripe key header
        const stripe = plant(`sk_live_${g.chars(ALNUM, 24)}`);
        requests.push({
          method: "POST",
          path: `/api/v1/orders/${orderId}/checkout`,
          at,
          headers: { ...common, "content-type": "application/json", "x-api-key": stripe, "idempotency-key": g.uuid(), cookie: `session=${who.session}` },
          body: JSON.stringify({
            order_id: requestId,
            items: [{ sku: "SKU-1001", qty: 2, price: 19.99 }],
            payment: { card_number: who.card, cvv: String(g.int(100, 999)), expiry: "12/29", cardholder_name: who.fullName },
            billing_email: who.email,
            contact: { phone: who.phone },
            notes: `Please call me on ${who.altPhone} or write to ${who.altEmail}; card ${other.card} as backup`,
            client_ip: who.ipv4,
            created_at: ORDINARY.timestamp,
            count: 42,
          }),
          response: { status: 201, headers: { "content-type": "application/json" }, body: JSON.stringify({ id: orderId, status: "created", receipt_email: who.email, created_at: ORDINARY.timestamp }) },
        });
        break;
      }
      case 3: {
        // configuration dump: keys of every kind in a text body
        const aws = plant(`AKIA${g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`);
        const oldAws = plant(`ASIA${g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`);
        const awsSecret = plant(g.chars(B64, 40));
        const ghp = plant(`ghp_${g.chars(ALNUM, 36)}`);
        const pat = plant(`github_pat_${g.chars(ALNUM, 22)}_${g.chars(ALNUM, 59)}`);
        const slack = plant(`xoxb-${g.chars(DIGITS, 12)}-${g.chars(DIGITS, 13)}-${g.chars(ALNUM, 24)}`);
        const google = plant(`AIza${g.chars(B64URL, 35)}`);
        const dbPassword = plant(`db${g.chars(ALNUM, 14)}`);
        const pem = plant(g.pem());
        for (const line of pem.split("\n").slice(1, -1)) plant(line);
        requests.push({
          method: "PUT",
          path: "/internal/config",
          at,
          headers: { ...common, "content-type": "text/plain", "x-forwarded-for": `${who.ipv4}, ${who.ipv6}` },
          body: [
            `# written ${ORDINARY.timestamp} by ${who.altEmail}`,
            `aws_access_key_id = ${aws}`,
            `aws_secret_access_key = ${awsSecret}`,
            `(rotated from ${oldAws}; AWS secret key: ${awsSecret})`,
            `GITHUB_TOKEN: ${ghp}`,
            `ci uses ${pat}`,
            `slack ${slack}`,
            `maps ${google}`,
            `DATABASE_URL: postgres://app:${dbPassword}@db.internal:5432/app`,
            pem,
            `last token seen ${who.jwt}`,
            `app version ${ORDINARY.version}`,
          ].join("\n"),
          response: { status: 204, headers: {} },
        });
        break;
      }
      case 4: {
        // webhook: nested JSON, signature header, HTML response
        const signature = plant(`sha256=${g.chars(HEX, 64)}`);
        const installToken = plant(`ghs_${g.chars(ALNUM, 36)}`);
        requests.push({
          method: "POST",
          path: "/webhooks/github",
          at,
          headers: { ...common, "content-type": "application/json", "x-hub-signature-256": signature },
          body: JSON.stringify({
            action: "completed",
            sender: { login: "octocat", contact: { primary: { email: who.email } } },
            installation: { id: orderId, access: { token: installToken } },
            text: `deploy by ${who.altEmail} from ${who.ipv6} (${who.ipv4})`,
            created_at: ORDINARY.timestamp,
          }),
          response: { status: 200, headers: { "content-type": "text/html" }, body: `<html><body><p>Thanks ${who.email}, we will call ${who.altPhone}.</p><p>Server ${who.ipv4}</p></body></html>` },
        });
        break;
      }
      case 5: {
        // search: keys in the query, XML response
        const google = plant(`AIza${g.chars(B64URL, 35)}`);
        const slack = plant(`xoxp-${g.chars(DIGITS, 11)}-${g.chars(DIGITS, 12)}-${g.chars(ALNUM, 32)}`);
        requests.push({
          method: "GET",
          path: `/api/v1/search?q=${encodeURIComponent(other.email)}&api_key=${google}&page=2&version=${ORDINARY.version}`,
          at,
          headers: { ...common, authorization: `Bearer ${slack}` },
          response: {
            status: 200,
            headers: { "content-type": "application/xml" },
            body: `<?xml version="1.0"?><customers><customer id="${orderId}"><email>${other.email}</email><ssn>${other.ssn}</ssn><password>${other.password}</password><note>card ${other.card}, ip ${other.ipv4}</note></customer></customers>`,
          },
        });
        break;
      }
      case 6: {
        // upload: multipart form with Basic auth
        const boundary = `----form${g.chars(ALNUM, 12)}`;
        const basic = plant(Buffer.from(`${who.email}:${who.password}`).toString("base64"));
        requests.push({
          method: "POST",
          path: "/api/v1/documents",
          at,
          headers: { ...common, "content-type": `multipart/form-data; boundary=${boundary}`, authorization: `Basic ${basic}` },
          body: [
            `--${boundary}`,
            `Content-Disposition: form-data; name="email"`,
            ``,
            who.email,
            `--${boundary}`,
            `Content-Disposition: form-data; name="password"`,
            ``,
            who.password,
            `--${boundary}`,
            `Content-Disposition: form-data; name="file"; filename="notes.txt"`,
            `Content-Type: text/plain`,
            ``,
            `call ${who.altPhone}, SSN ${who.ssn}, IBAN ${who.iban}`,
            `--${boundary}--`,
            ``,
          ].join("\r\n"),
          response: { status: 201, headers: { "content-type": "application/json", location: `/api/v1/documents/${orderId}?token=${who.refreshToken}` } },
        });
        break;
      }
      default: {
        // refresh: a truncated recorded JSON response (not valid JSON) and cookies both ways
        const full = JSON.stringify({ access_token: who.jwt, refresh_token: who.refreshToken, user: { email: who.email, password: who.password, card_number: who.card } });
        requests.push({
          method: "POST",
          path: `/api/v1/token/refresh?refresh_token=${who.refreshToken}`,
          at,
          headers: { ...common, cookie: `session=${who.session}; csrftoken=${who.csrf}`, "content-type": "application/json", "x-forwarded-for": who.ipv6 },
          body: JSON.stringify({ grant_type: "refresh_token", refresh_token: who.refreshToken, client_secret: plant(`cs_${g.chars(ALNUM, 30)}`) }),
          response: {
            status: 200,
            headers: { "content-type": "application/json", "set-cookie": `session=${who.session}; Path=/; HttpOnly\ncsrftoken=${who.csrf}; Path=/` },
            body: full.slice(0, full.length - 3),
          },
        });
      }
    }
  }
  return { requests, planted: [...planted] };
}
