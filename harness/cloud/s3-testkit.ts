// Small helpers for code that talks to the S3-family emulators the way Cloudreve's clients do: the completion XML as
// the web client and the SDK write it, S3 error bodies parsed, deterministic binary payloads.
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: false });

/** Parses an S3-style <Error> body into its Code, Message and the other elements. */
export function parseS3Error(text: string): { code?: string; message?: string; fields: Record<string, string> } {
  try {
    const doc = parser.parse(text) as { Error?: Record<string, unknown> };
    const e = doc.Error;
    if (!e || typeof e !== 'object') return { fields: {} };
    const fields = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
    return { code: fields.Code, message: fields.Message, fields };
  } catch {
    return { fields: {} };
  }
}

/**
 * The CompleteMultipartUpload body Cloudreve's clients send: no declaration, no namespace; the web client inserts the
 * ETag raw (quotes included, FE `encodePartsXML`), the SDK XML-escapes it (`&quot;…&quot;`, SDK `finish()`).
 */
export function completeXml(parts: { partNumber: number; etag: string }[], style: 'frontend' | 'sdk' = 'frontend'): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${style === 'sdk' ? esc(p.etag) : p.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

/** Deterministic pseudo-random bytes (xorshift32), full of sequences that are not valid UTF-8. */
export function patternBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed >>> 0) || 0x9e3779b9;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff; }
  return out;
}
