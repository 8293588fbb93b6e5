// Upyun signatures (docs.upyun.com/api/authorization; Cloudreve `pkg/filemanager/driver/upyun/upyun.go` `sign`):
//   UPYUN <operator>:base64(HMAC-SHA1(md5hex(password), elements joined by "&"))
// REST requests sign METHOD&URI&Date[&Content-MD5]; the form API signs POST&/<bucket>[&date]&policy[&content-md5]
// (date and content-md5 taken from the policy); the notify callback signs POST&<path>&<Date>&<Content-MD5>. Empty
// optional elements are dropped together with their "&".
import { createHash, createHmac } from 'node:crypto';

export function md5hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export function upyunSignature(password: string, elements: readonly (string | undefined)[]): string {
  return createHmac('sha1', md5hex(password)).update(elements.filter((e): e is string => !!e).join('&'), 'utf8').digest('base64');
}

export function upyunAuthorization(operator: string, password: string, elements: readonly (string | undefined)[]): string {
  return `UPYUN ${operator}:${upyunSignature(password, elements)}`;
}

/** Form-API `policy` (base64 JSON) and `authorization`, as Cloudreve's `Token` makes them. */
export function upyunFormCredentials(operator: string, password: string, bucket: string, policy: Record<string, unknown>): { policy: string; authorization: string } {
  const encoded = Buffer.from(JSON.stringify(policy)).toString('base64');
  const date = typeof policy.date === 'string' ? policy.date : undefined;
  const md5 = typeof policy['content-md5'] === 'string' ? policy['content-md5'] : undefined;
  return { policy: encoded, authorization: upyunAuthorization(operator, password, ['POST', `/${bucket}`, date, encoded, md5]) };
}

/** Legacy form signature: md5hex(policy + "&" + form_api_secret). */
export function upyunLegacyFormSignature(policy: string, formApiSecret: string): string {
  return md5hex(`${policy}&${formApiSecret}`);
}

/**
 * Cloudreve's check of a notify (4.18.0 `ValidateCallback`): `Content-MD5` must equal md5hex(body), and
 * `Authorization` must equal the signature over `POST&<r.URL.Path>&<Date>&<Content-MD5>` with the policy's operator.
 */
export function verifyUpyunNotifyAsCloudreve(operator: string, password: string, r: {
  path: string; date?: string; contentMd5?: string; authorization?: string; body: Buffer | string;
}): boolean {
  if (md5hex(r.body) !== r.contentMd5) return false;
  let path = r.path;
  try { path = decodeURIComponent(r.path); } catch { /* keep */ }
  // Cloudreve joins the four elements as they are (an empty Date is kept as an empty element).
  const mac = createHmac('sha1', md5hex(password)).update(['POST', path, r.date ?? '', r.contentMd5].join('&'), 'utf8').digest('base64');
  return r.authorization === `UPYUN ${operator}:${mac}`;
}
