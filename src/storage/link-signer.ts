/**
 * Makes the time-limited link a `url` answer carries: the gateway's own signed `/files` link
 * (UrlSigner) or, on S3, a presigned link straight to the bucket (S3UrlSigner, which signs
 * asynchronously).
 */
export interface LinkSigner {
  sign(key: string, expiresAtSeconds: number): string | Promise<string>;
}
