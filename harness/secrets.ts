// Secrets never leave the process in clear: every report, attachment, curl line and recording passes through redact().
// Values are registered as they appear (passwords from configuration, tokens from login answers, session secrets);
// well-known secret-bearing fields are also masked by shape, so an unregistered token is still hidden.

const REDACTED = '<redacted>';
const registered = new Set<string>();

/** Registers a secret value so every later redact() masks it wherever it appears. Short values are ignored. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) registered.add(value);
}

const fieldPatterns: RegExp[] = [
  // JSON fields whose values are secrets.
  /("(?:password|new_password|current_password|access_token|refresh_token|callback_secret|credential|secret|slave_key|secret_key|otp|token|ak|sk|access_key|secret_access_key|session_secret)"\s*:\s*")((?:[^"\\]|\\.)*)(")/gi,
];

const inlinePatterns: [RegExp, string][] = [
  // Authorization header values (JWT bearer, HMAC "Bearer Cr", provider schemes).
  [/(authorization["']?\s*[:=]\s*["']?)([^"'\r\n]+)/gi, `$1${REDACTED}`],
  [/(Bearer (?:Cr )?)[A-Za-z0-9\-_.=+/:]{8,}/g, `$1${REDACTED}`],
  // Signatures in URLs: Cloudreve's sign=, SigV4, V2 and provider tokens.
  [/([?&](?:sign|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId|token|x-oss-signature|q-signature|upToken)=)[^&\s"']+/gi, `$1${REDACTED}`],
  // The callback secret is the last path segment of a callback URL.
  [/(\/api\/v4\/callback\/[a-z0-9]+\/[^/\s"'?]+\/)[^/\s"'?]+/gi, `$1${REDACTED}`],
  // JWT-shaped strings anywhere.
  [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
];

/** Returns text with every registered secret and every secret-shaped field masked. */
export function redact(text: string): string {
  let out = text;
  for (const secret of registered) out = out.split(secret).join(REDACTED);
  for (const p of fieldPatterns) out = out.replace(p, `$1${REDACTED}$3`);
  for (const [p, r] of inlinePatterns) out = out.replace(p, r);
  return out;
}

/** Deep-redacts a JSON-like value (for attachments). */
export function redactValue<T>(value: T): T {
  return JSON.parse(redact(JSON.stringify(value))) as T;
}
