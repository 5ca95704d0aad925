/**
 * HTTP facts every part that handles recorded headers shares: what a header name may be, and
 * which headers describe one hop only (each part adds the ones it sets itself).
 */

/** A header name or method: an RFC 9110 token. */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Hop-by-hop headers (RFC 9110 §7.6.1, plus the old Proxy-Connection): never forwarded as recorded. */
export const HOP_BY_HOP_HEADERS: readonly string[] = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

/** The header names a Connection header lists (they are hop-by-hop for that message), lowercased. */
export function connectionListed(connection: string | undefined): Set<string> {
  return new Set((connection ?? "").split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== ""));
}
