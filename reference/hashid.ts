// Opaque ids as the real server makes them: hashids of [id, kind] with a random per-instance salt
// (pkg/hashid/hash.go), so a client cannot guess or hard-code them and a file id does not decode as a user id.
import Hashids from 'hashids';
import { randomBytes } from 'node:crypto';

/** The kinds of pkg/hashid (their order is their number). */
export const Kind = {
  Share: 0, User: 1, File: 2, Folder: 3, Tag: 4, Policy: 5, SourceLink: 6, Group: 7, Entity: 8, AuditLog: 9,
  Node: 10, Task: 11, DavAccount: 12, Payment: 13,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export class HashIds {
  private readonly h: Hashids;
  constructor(salt = randomBytes(32).toString('base64url')) {
    this.h = new Hashids(salt);
  }

  encode(kind: Kind, id: number): string {
    return this.h.encode([id, kind]);
  }

  /** The id, or undefined when the string is not a hashid of that kind (like the server's ErrTypeNotMatch). */
  decode(kind: Kind, raw: string): number | undefined {
    if (typeof raw !== 'string' || raw === '') return undefined;
    let parts: number[];
    try {
      parts = this.h.decode(raw).map(Number);
    } catch {
      return undefined;
    }
    // Re-encoding must give the input back: rejects strings that only happen to decode.
    if (parts.length !== 2 || parts[1] !== kind || this.h.encode(parts) !== raw) return undefined;
    return parts[0];
  }
}
